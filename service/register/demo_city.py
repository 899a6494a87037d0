"""A deterministic demo city modelled on Zhumadian (驻马店市, Henan, region code 411700).

Plain data only: loading it into the database is the caller's job, so the generator can be
tested, diffed and reused (fixtures, benchmarks, training sessions) without a connection.
Districts and scenic spots are real; streets are real roads dressed up as commercial
streets; merchants, their names and their codes are invented.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from service.register.uscc import generate

CITY_CODE = "411700"

CATEGORIES = (
    "catering",
    "retail",
    "lodging",
    "tourism_services",
    "entertainment",
    "personal_services",
    "automotive",
    "pharmacy_health",
)


@dataclass(frozen=True, slots=True)
class DemoArea:
    code: str
    kind: str
    name_zh: str
    name_en: str
    parent: str | None


@dataclass(frozen=True, slots=True)
class DemoMerchant:
    uscc: str
    name: str
    category: str
    address: str
    district: str
    street: str | None
    scenic_spot: str | None
    status: str


@dataclass(frozen=True, slots=True)
class _Place:
    """An area plus what the merchant generator needs to make it look lived in."""

    area: DemoArea
    weight: float = 1.0
    # Key into _PROFILES; decides which trades cluster here.
    profile: str = "general"
    # Roads used in addresses; the address prefix for a scenic spot comes first.
    roads: tuple[str, ...] = ()
    # Local words that shops put in front of their trade name.
    place_words: tuple[str, ...] = ()


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _district(code: str, zh: str, en: str, weight: float, roads: str, words: str) -> _Place:
    area = DemoArea(code, "district", zh, en, CITY_CODE)
    return _Place(area, weight, "general", _words(roads), _words(words))


def _street(
    code: str, zh: str, en: str, weight: float, profile: str, road: str, words: str
) -> _Place:
    area = DemoArea(code, "street", zh, en, code.split("-")[0])
    return _Place(area, weight, profile, (road,), _words(words))


def _spot(code: str, zh: str, en: str, weight: float, roads: str, words: str) -> _Place:
    area = DemoArea(code, "scenic_spot", zh, en, code.split("-")[0])
    return _Place(area, weight, "scenic", _words(roads), _words(words))


_CITY = _Place(DemoArea(CITY_CODE, "city", "驻马店市", "Zhumadian City", None))

# Weights for district-only merchants follow the rough size of each seat's commerce, so the
# urban district dominates the way it does in the real registry.
# fmt: off
_DISTRICTS: tuple[_Place, ...] = (
    _district("411702", "驿城区", "Yicheng District", 30,
              "解放路 中华路 雪松路 乐山路 练江路 文明路 交通路 风光路 开源大道 驿城大道 "
              "铜山大道 天中山大道 置地大道 前进路 健康路",
              "驻马店 驿城 天中 豫南 乐山"),
    _district("411721", "西平县", "Xiping County", 8,
              "人民路 西平大道 嫘祖大道 文化路 建设路 柏城大道", "西平 柏城 嫘祖 棠溪"),
    _district("411722", "上蔡县", "Shangcai County", 8,
              "蔡都大道 人民路 重阳大道 文化路 建设路", "上蔡 蔡都 蔡州 重阳"),
    _district("411723", "平舆县", "Pingyu County", 7,
              "建设路 清河大道 人民路 文化路 车舆大道", "平舆 挚亭 清河"),
    _district("411724", "正阳县", "Zhengyang County", 7,
              "人民路 正阳大道 建设路 慎水大道 花生大道", "正阳 慎水 淮河"),
    _district("411725", "确山县", "Queshan County", 6,
              "人民路 盘龙大道 建设路 朗陵路 京港大道", "确山 朗陵 盘龙"),
    _district("411726", "泌阳县", "Biyang County", 8,
              "泌水大道 花园路 盘古大道 人民路 建设路", "泌阳 泌水 盘古"),
    _district("411727", "汝南县", "Runan County", 8,
              "汝宁大道 梁祝大道 人民路 建设路 天中山路", "汝南 汝宁 天中 梁祝"),
    _district("411728", "遂平县", "Suiping County", 7,
              "车站路 建设路 文化路 人民路 团结路 嵖岈山大道", "遂平 嵖岈 吴房"),
    _district("411729", "新蔡县", "Xincai County", 8,
              "人民路 建设路 新蔡大道 古吕路 今是路", "新蔡 古吕 今是"),
)

_STREETS: tuple[_Place, ...] = (
    _street("411702-ST01", "解放路商业步行街", "Jiefang Road Pedestrian Street", 4,
            "shopping", "解放路", "解放路 驻马店 天中"),
    _street("411702-ST02", "中华路美食街", "Zhonghua Road Food Street", 3,
            "food", "中华路", "中华路 驻马店 驿城"),
    _street("411702-ST03", "雪松路夜市", "Xuesong Road Night Market", 3,
            "food", "雪松路", "雪松路 驿城"),
    _street("411702-ST04", "乐山路商业街", "Leshan Road Commercial Street", 2,
            "shopping", "乐山路", "乐山 驻马店"),
    _street("411721-ST01", "西平县文化路商业街", "Xiping Wenhua Road Commercial Street", 1.5,
            "shopping", "文化路", "西平 柏城"),
    _street("411726-ST01", "泌阳县花园路商业街", "Biyang Huayuan Road Commercial Street", 1.5,
            "shopping", "花园路", "泌阳 花园"),
    _street("411728-ST01", "遂平县建设路商业街", "Suiping Jianshe Road Commercial Street", 1.5,
            "shopping", "建设路", "遂平 嵖岈"),
)

# The first "road" of a scenic spot is the locality written before the road in an address.
_SCENIC_SPOTS: tuple[_Place, ...] = (
    _spot("411702-SS01", "老乐山景区", "Laole Mountain Scenic Area", 2,
          "老乐山景区 山门路 游客中心路 环山路", "老乐山 乐山"),
    _spot("411725-SS01", "薄山湖景区", "Boshan Lake Scenic Area", 1.5,
          "薄山湖景区 环湖路 码头路 游客中心路", "薄山湖 薄山"),
    _spot("411725-SS02", "竹沟革命纪念馆", "Zhugou Revolutionary Memorial Hall", 1,
          "竹沟镇 纪念馆路 红色大街", "竹沟 确山"),
    _spot("411726-SS01", "铜山湖景区", "Tongshan Lake Scenic Area", 2.5,
          "铜山湖景区 环湖路 码头路 游客中心路", "铜山湖 铜山"),
    _spot("411726-SS02", "盘古山景区", "Pangu Mountain Scenic Area", 1.5,
          "盘古山景区 山门路 游客中心路", "盘古山 盘古"),
    _spot("411727-SS01", "南海禅寺", "Nanhai Chan Temple", 2,
          "南海禅寺景区 禅寺路 香客路", "南海 汝南"),
    _spot("411727-SS02", "天中山景区", "Tianzhong Mountain Scenic Area", 1.5,
          "天中山景区 天中山路 游客中心路", "天中山 天中"),
    _spot("411728-SS01", "嵖岈山风景区", "Chaya Mountain Scenic Area", 4,
          "嵖岈山风景区 游客中心路 山门路 琵琶湖路", "嵖岈山 嵖岈"),
)
# fmt: on

_PLACES: dict[str, _Place] = {
    p.area.code: p for p in (_CITY, *_DISTRICTS, *_STREETS, *_SCENIC_SPOTS)
}

# Trade mix per kind of location, as relative weights over CATEGORIES (same order).
_PROFILES: dict[str, tuple[float, ...]] = {
    "general": (28, 30, 6, 2, 6, 13, 8, 7),
    "shopping": (28, 40, 5, 2, 8, 12, 0.5, 5),
    "food": (75, 12, 2, 1, 6, 3, 0, 1),
    "scenic": (32, 15, 22, 22, 6, 2, 0.5, 0.5),
}

# Share of merchants on a commercial street and in a scenic spot; the rest are district-only.
_STREET_SHARE = 0.40
_SCENIC_SHARE = 0.15
_CLOSED_SHARE = 0.04

# Trade words; a trailing * marks a trade registered as a company rather than an individual
# business: travel agencies must be companies under the Tourism Law, and hotels and pharmacy
# chains usually are, so their names and USCC kind differ.
_Suffix = tuple[str, bool]


def _suffixes(text: str) -> tuple[_Suffix, ...]:
    return tuple((word.rstrip("*"), word.endswith("*")) for word in text.split())


_SUFFIXES: dict[str, tuple[_Suffix, ...]] = {
    "catering": _suffixes(
        "餐馆 饭店 火锅店 烩面馆 胡辣汤馆 羊肉汤馆 烧烤店 小吃店 面馆 酒楼 饺子馆 家常菜馆 "
        "蒸菜馆 牛肉汤馆 卤肉店 餐饮有限公司*"
    ),
    "retail": _suffixes(
        "超市 便利店 百货商店 副食店 土特产店 烟酒店 服装店 鞋店 水果店 家电商行 手机店 "
        "粮油店 小磨香油坊 花生专卖店 商贸有限公司*"
    ),
    "lodging": _suffixes("宾馆 酒店* 快捷酒店 旅馆 招待所 商务酒店* 大酒店*"),
    "tourism_services": _suffixes(
        "旅行社* 旅游服务部 旅游咨询服务中心 旅游纪念品店 观光车服务部 户外拓展中心 研学旅行服务部"
    ),
    "entertainment": _suffixes("KTV 网咖 台球室 棋牌室 歌舞厅 剧本杀馆 电玩城 影城*"),
    "personal_services": _suffixes(
        "理发店 美容院 美发沙龙 洗浴中心 足疗店 干洗店 照相馆 家政服务部 开锁店 裁缝店 健身房"
    ),
    "automotive": _suffixes(
        "汽修 汽车维修中心 洗车行 汽车美容店 轮胎店 汽配店 二手车行 汽车服务有限公司*"
    ),
    "pharmacy_health": _suffixes("大药房* 药店 诊所 中医诊所 口腔诊所 眼镜店 推拿馆 医疗器械店"),
}

# Trades that only make sense in a scenic spot: a 农家乐 downtown would look wrong to the
# bureau staff who review the demo.
_SCENIC_SUFFIXES: dict[str, tuple[_Suffix, ...]] = {
    "catering": _suffixes("农家乐 山野菜馆 鱼馆"),
    "lodging": _suffixes("民宿 山庄 度假酒店* 客栈"),
    "retail": _suffixes("特产商店 工艺品店"),
}

_TRADE_NAMES = _words(
    "鑫隆 金鼎 聚福 和顺 宏达 顺发 康乐 兴隆 明珠 锦绣 百姓 惠民 佳佳 友谊 万家 永盛 祥和 "
    "福源 华盛 天润 鼎盛 众鑫 嘉禾 恒泰 瑞丰 盛世 金源 新世纪 好运来 福满堂 欣悦 同心 大众 "
    "乐购 家和 鸿运 金龙 凤祥 安康 春晖 利民 喜来 乐天 金穗 华美 润泽 宜家乐 汇丰源 四季 香满园"
)

# Family-style names ("老张家", "王记") are how small restaurants and workshops actually
# trade, but odd for hotels or pharmacies, so only some categories draw from them.
_FAMILY_NAMES = _words(
    "老张家 王记 李记 刘记 陈记 赵家 孙记 周家 吴记 郑记 马家 杨记 老魏家 胡记 朱家 高记 何记 "
    "罗记 老宋家 黄记"
)
_FAMILY_CATEGORIES = frozenset({"catering", "personal_services", "automotive"})

# Beyond this many random draws, disambiguate instead of looping on a crowded name space.
_NAME_ATTEMPTS = 30


# Well-run places, so that the demo shows areas that earn certificates: their merchants are
# good and much rated, with clean credit. The first is certified, the second certified then
# put on hold by a merchant's listing, the third left eligible for an official to certify.
SHOWCASE_AREAS = ("411725-SS02", "411727-SS02", "411728-ST01")


def demo_areas() -> list[DemoArea]:
    """The city, its ten districts, then commercial streets and scenic spots (parents first)."""
    children = sorted((p.area for p in (*_STREETS, *_SCENIC_SPOTS)), key=lambda a: a.code)
    return [_CITY.area, *(p.area for p in _DISTRICTS), *children]


def demo_merchants(
    areas: list[DemoArea], count: int = 1200, seed: int = 20180315
) -> list[DemoMerchant]:
    """``count`` merchants placed in ``areas``; the same inputs always give the same output.

    Areas not in ``demo_areas()`` are usable too; they get neutral weights and generic roads.
    Streets and scenic spots whose district is not in ``areas`` are left out.
    """
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    districts = [_place(a) for a in areas if a.kind == "district"]
    if not districts:
        raise ValueError("areas contain no district to place merchants in")
    by_code = {p.area.code: p for p in districts}
    streets = [_place(a) for a in areas if a.kind == "street" and a.parent in by_code]
    spots = [_place(a) for a in areas if a.kind == "scenic_spot" and a.parent in by_code]

    rng = random.Random(seed)  # noqa: S311 - demo data; reproducibility is the point
    names: set[str] = set()
    usccs: set[str] = set()
    merchants: list[DemoMerchant] = []
    for _ in range(count):
        roll = rng.random()
        if roll < _STREET_SHARE and streets:
            local = _pick(rng, streets)
        elif _STREET_SHARE <= roll < _STREET_SHARE + _SCENIC_SHARE and spots:
            local = _pick(rng, spots)
        else:
            local = _pick(rng, districts)
        parent = local.area.parent
        district = by_code[parent] if local.area.kind != "district" and parent else local
        scenic = local.area.kind == "scenic_spot"

        category = rng.choices(
            CATEGORIES, weights=_PROFILES.get(local.profile, _PROFILES["general"])
        )[0]
        name, enterprise = _name(rng, names, category, local, district, scenic)
        names.add(name)

        uscc = generate(rng, district.area.code, kind="1" if enterprise else "2")
        while uscc in usccs:
            uscc = generate(rng, district.area.code, kind="1" if enterprise else "2")
        usccs.add(uscc)

        merchants.append(
            DemoMerchant(
                uscc=uscc,
                name=name,
                category=category,
                address=_address(rng, local, district),
                district=district.area.code,
                street=local.area.code if local.area.kind == "street" else None,
                scenic_spot=local.area.code if scenic else None,
                status="closed" if rng.random() < _CLOSED_SHARE else "active",
            )
        )
    return merchants


def _place(area: DemoArea) -> _Place:
    known = _PLACES.get(area.code)
    if known is None:
        return _Place(area, profile="scenic" if area.kind == "scenic_spot" else "general")
    # The caller's area wins over our table so a renamed or re-parented area still lines up.
    return _Place(area, known.weight, known.profile, known.roads, known.place_words)


def _pick(rng: random.Random, places: Sequence[_Place]) -> _Place:
    return rng.choices(places, weights=[p.weight for p in places])[0]


def _name(
    rng: random.Random,
    taken: set[str],
    category: str,
    local: _Place,
    district: _Place,
    scenic: bool,
) -> tuple[str, bool]:
    suffixes = _SUFFIXES[category]
    if scenic:
        suffixes = suffixes + _SCENIC_SUFFIXES.get(category, ())
    words = local.place_words or (district.area.name_zh[:2],)
    name = ""
    enterprise = False
    for _ in range(_NAME_ATTEMPTS):
        suffix, enterprise = rng.choice(suffixes)
        if category in _FAMILY_CATEGORIES and not enterprise and rng.random() < 0.5:
            trade = rng.choice(_FAMILY_NAMES)
        else:
            trade = rng.choice(_TRADE_NAMES)
        if enterprise:
            # Company names must open with the registering administrative division.
            prefix = rng.choice((_CITY.area.name_zh, district.area.name_zh))
        else:
            # Many small shops carry no place word at all.
            prefix = rng.choice((*words, ""))
        name = prefix + trade + suffix
        if name not in taken:
            return name, enterprise
    n = 2
    while f"{name}（{n}号店）" in taken:
        n += 1
    return f"{name}（{n}号店）", enterprise


def _address(rng: random.Random, local: _Place, district: _Place) -> str:
    head = district.area.name_zh
    if local.area.kind == "scenic_spot" and len(local.roads) > 1:
        return f"{head}{local.roads[0]}{rng.choice(local.roads[1:])}{rng.randint(1, 120)}号"
    roads = local.roads or district.roads or ("人民路",)
    return f"{head}{rng.choice(roads)}{rng.randint(1, 399)}号"
