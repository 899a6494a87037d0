from __future__ import annotations

from collections import Counter

from service.kernel.models import AreaKind, MerchantCategory, MerchantStatus
from service.register.demo_city import (
    CATEGORIES,
    DemoArea,
    DemoMerchant,
    demo_areas,
    demo_merchants,
)
from service.register.uscc import is_valid

DISTRICTS = {
    "411702": "驿城区",
    "411721": "西平县",
    "411722": "上蔡县",
    "411723": "平舆县",
    "411724": "正阳县",
    "411725": "确山县",
    "411726": "泌阳县",
    "411727": "汝南县",
    "411728": "遂平县",
    "411729": "新蔡县",
}


def _merchants() -> list[DemoMerchant]:
    return demo_merchants(demo_areas())


def test_area_codes_unique() -> None:
    codes = [a.code for a in demo_areas()]
    assert len(codes) == len(set(codes))


def test_parents_exist_and_come_first() -> None:
    seen: dict[str, DemoArea] = {}
    for area in demo_areas():
        if area.kind == "city":
            assert area.parent is None
        else:
            assert area.parent in seen, area
        seen[area.code] = area


def test_hierarchy_matches_kinds() -> None:
    areas = {a.code: a for a in demo_areas()}
    expected_parent = {"district": "city", "street": "district", "scenic_spot": "district"}
    for area in areas.values():
        assert area.kind in {k.value for k in AreaKind}
        assert area.name_zh
        assert area.name_en
        if area.parent is not None:
            assert areas[area.parent].kind == expected_parent[area.kind]
            if area.kind in {"street", "scenic_spot"}:
                assert area.code.startswith(area.parent + "-")


def test_city_and_districts() -> None:
    areas = demo_areas()
    assert areas[0] == DemoArea("411700", "city", "驻马店市", "Zhumadian City", None)
    districts = {a.code: a.name_zh for a in areas if a.kind == "district"}
    assert districts == DISTRICTS


def test_street_and_scenic_counts() -> None:
    kinds = Counter(a.kind for a in demo_areas())
    assert kinds["street"] >= 6
    assert kinds["scenic_spot"] >= 4
    names = {a.name_zh for a in demo_areas()}
    assert "嵖岈山风景区" in names
    assert "解放路商业步行街" in names


def test_default_count() -> None:
    assert len(_merchants()) >= 1000


def test_usccs_valid_and_unique() -> None:
    merchants = _merchants()
    assert all(is_valid(m.uscc) for m in merchants)
    assert len({m.uscc for m in merchants}) == len(merchants)


def test_uscc_region_is_district() -> None:
    assert all(m.uscc[2:8] == m.district for m in _merchants())


def test_names_unique() -> None:
    merchants = _merchants()
    assert len({m.name for m in merchants}) == len(merchants)


def test_locations_belong_to_district() -> None:
    areas = {a.code: a for a in demo_areas()}
    for m in _merchants():
        assert areas[m.district].kind == "district"
        assert not (m.street and m.scenic_spot), m
        if m.street is not None:
            assert areas[m.street].kind == "street"
            assert areas[m.street].parent == m.district
        if m.scenic_spot is not None:
            assert areas[m.scenic_spot].kind == "scenic_spot"
            assert areas[m.scenic_spot].parent == m.district
        assert m.address.startswith(areas[m.district].name_zh)


def test_enumerations_match_models() -> None:
    assert set(CATEGORIES) == {c.value for c in MerchantCategory}
    statuses = {s.value for s in MerchantStatus}
    for m in _merchants():
        assert m.category in CATEGORIES
        assert m.status in statuses


def test_distribution_is_realistic() -> None:
    merchants = demo_merchants(demo_areas(), count=5000)
    n = len(merchants)
    on_street = sum(m.street is not None for m in merchants) / n
    in_scenic = sum(m.scenic_spot is not None for m in merchants) / n
    closed = sum(m.status == "closed" for m in merchants) / n
    assert 0.35 < on_street < 0.45
    assert 0.11 < in_scenic < 0.19
    assert 0.02 < closed < 0.06
    by_district = Counter(m.district for m in merchants)
    assert by_district.most_common(1)[0][0] == "411702"
    assert set(by_district) == set(DISTRICTS)
    top_two = {c for c, _ in Counter(m.category for m in merchants).most_common(2)}
    assert top_two == {"catering", "retail"}
    scenic = Counter(m.category for m in merchants if m.scenic_spot is not None)
    elsewhere = Counter(m.category for m in merchants if m.scenic_spot is None)
    assert scenic["tourism_services"] / scenic.total() > (
        3 * elsewhere["tourism_services"] / elsewhere.total()
    )


def test_deterministic() -> None:
    assert _merchants() == _merchants()
    assert demo_areas() == demo_areas()


def test_different_seed_differs() -> None:
    a = demo_merchants(demo_areas(), seed=1)
    b = demo_merchants(demo_areas(), seed=2)
    assert [m.uscc for m in a] != [m.uscc for m in b]
    assert [m.name for m in a] != [m.name for m in b]


def test_count_and_subset_of_areas() -> None:
    assert demo_merchants(demo_areas(), count=0) == []
    suiping = [a for a in demo_areas() if a.code.startswith("411728")]
    merchants = demo_merchants(suiping, count=50)
    assert len(merchants) == 50
    assert {m.district for m in merchants} == {"411728"}
