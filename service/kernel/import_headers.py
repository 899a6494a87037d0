"""The column headers each kind of import takes, in Chinese and in English, and what each
column means: the one place that says which header is which field, for the importers (a file
from Excel or WPS with 统一社会信用代码 and 企业名称 reads like one with ``uscc`` and ``name``)
and for the templates a person downloads to fill in.

A header is matched after NFKC normalisation (full-width letters and brackets become
half-width), with spaces, a leading BOM and a trailing required mark (``*``) dropped, and
case ignored; the English machine name always matches. Values stay as the API takes them
(the category ``catering``, a date ``2026-05-12``): the data dictionary lists them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # the machine name, as the API and the English interface spell it
    zh: str  # the Chinese header a template writes
    note: str  # for the data dictionary: what goes in it, in Chinese
    example: str = ""
    required: bool = False
    aliases: tuple[str, ...] = ()  # further headers taken for it

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.name, self.zh, *self.aliases)


@dataclass(frozen=True, slots=True)
class ImportKind:
    name: str  # the word of ``fangxin import`` and of the template's address
    zh: str  # the data sheet's name in a template
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def lookup(self) -> dict[str, str]:
        """Normalised header -> machine name."""
        return {normalise(h): c.name for c in self.columns for h in c.headers}


_SPACE = re.compile(r"\s+")


def normalise(header: str) -> str:
    text = unicodedata.normalize("NFKC", header).replace("\ufeff", "")
    return _SPACE.sub("", text).rstrip("*").lower()


def canonical(kind: str, header: str) -> str | None:
    """The machine name a header stands for in a kind, or None for a header it does not take;
    a kind with no aliases known takes its machine names only (the caller checks them)."""
    k = KINDS.get(kind)
    if k is None:
        return None
    return k.lookup().get(normalise(header))


def C(  # noqa: N802 - a table of constructors reads best short
    name: str, zh: str, note: str, example: str = "", *aliases: str, required: bool = False
) -> Column:
    return Column(name, zh, note, example, required, aliases)


_USCC = ("信用代码", "社会信用代码", "统一代码")
_DISTRICT = ("区县", "区县代码", "所属区县代码", "辖区")
_HANDLED_BY = "regulator（市场监管部门）或 consumer_association（消费者协会）"
_TIME = "日期时间，带时区，如 2026-05-12T09:30:00+08:00"

AREAS = ImportKind(
    "areas",
    "区域",
    (
        C("code", "区域代码", "区域的唯一代码", "yuzhong", "代码", required=True),
        C(
            "kind",
            "区域类型",
            "city（市）、district（区县）、street（街道）或 scenic_spot（景区）",
            "district",
            "类型",
            required=True,
        ),
        C("name_zh", "中文名称", "区域的中文名称", "渝中区", "名称", required=True),
        C("name_en", "英文名称", "区域的英文名称", "Yuzhong", required=True),
        C("parent", "上级区域代码", "上级区域的代码；市可留空", "chongqing", "上级区域"),
    ),
)
MERCHANTS = ImportKind(
    "merchants",
    "商户",
    (
        C(
            "uscc",
            "统一社会信用代码",
            "18位统一社会信用代码（GB 32100）",
            "91500103MA5U3L0X2K",
            *_USCC,
            required=True,
        ),
        C(
            "name",
            "名称",
            "营业执照上的名称",
            "重庆市渝中区示例火锅店",
            "企业名称",
            "商户名称",
            "经营者名称",
            "市场主体名称",
            required=True,
        ),
        C(
            "category",
            "行业类别",
            "catering、retail、lodging、tourism_services、entertainment、personal_services、"
            "automotive 或 pharmacy_health",
            "catering",
            "类别",
            "行业",
            required=True,
        ),
        C("address", "经营地址", "经营场所地址", "解放碑八一路1号", "地址", "经营场所"),
        C("district", "所属区县", "所属区县的区域代码", "yuzhong", *_DISTRICT, required=True),
        C("street", "所属街道", "所属街道的区域代码，可留空", "jiefangbei", "街道", "街道代码"),
        C("scenic_spot", "所属景区", "所属景区的区域代码，可留空", "", "景区", "景区代码"),
        C(
            "status",
            "经营状态",
            "active（在营）或 closed（歇业、注销），默认 active",
            "active",
            "状态",
        ),
        C(
            "uscc_override",
            "信用代码免校验",
            "true 表示官员确认校验位不符的试点代码有效；默认 false",
            "false",
        ),
    ),
)
CREDIT = ImportKind(
    "credit",
    "信用事件",
    (
        C("uscc", "统一社会信用代码", "事件所涉商户", "91500103MA5U3L0X2K", *_USCC, required=True),
        C(
            "kind",
            "事件类型",
            "信用规则中的事件类型，如 administrative_penalty",
            "administrative_penalty",
            "类型",
            required=True,
        ),
        C("occurred_at", "发生时间", _TIME, "2026-05-12T09:30:00+08:00", "发生日期", required=True),
        C("source", "来源", "提供事件的系统或部门", "市场监管执法系统", "数据来源", required=True),
        C(
            "external_ref",
            "外部编号",
            "来源系统中的编号，同一来源内唯一",
            "渝中市监罚〔2026〕12号",
            "文书编号",
            required=True,
        ),
        C("note", "备注", "说明，可留空", ""),
        C("class", "风险分类", "仅 external_class 事件：A、B、C 或 D", "", "分类等级"),
    ),
)
COMPLAINTS = ImportKind(
    "complaints",
    "投诉举报",
    (
        C(
            "external_id",
            "登记编号",
            "12315 平台中的编号，唯一",
            "1250010320260512001",
            "工单编号",
            "投诉编号",
            required=True,
        ),
        C(
            "uscc",
            "统一社会信用代码",
            "被投诉方的信用代码，未知可留空",
            "91500103MA5U3L0X2K",
            *_USCC,
            "被投诉方统一社会信用代码",
        ),
        C("received_at", "登记时间", _TIME, "2026-05-12T09:30:00+08:00", "接收时间", required=True),
        C("accepted_at", "受理时间", _TIME + "；未受理留空", "2026-05-13T10:00:00+08:00"),
        C("closed_at", "办结时间", _TIME + "；未办结留空", ""),
        C("status", "处理状态", "received、accepted、closed 等", "accepted", "状态", required=True),
        C("category", "问题类别", "投诉的问题类别", "餐饮服务", "投诉类别", required=True),
        C("amount_disputed", "争议金额（元）", "以元计", "1200.00", "争议金额", "涉及金额"),
        C("amount_recovered", "挽回经济损失（元）", "以元计", "0", "挽回经济损失", "挽回金额"),
        C("upheld", "是否属实", "true 或 false，未认定留空", "", "属实"),
        C("source", "来源", "默认 12315", "12315", "数据来源"),
        C(
            "kind",
            "诉求类型",
            "consultation（咨询）、complaint（投诉）或 report（举报）",
            "complaint",
            "类型",
        ),
        C(
            "channel",
            "渠道",
            "hotline、web、wechat、sms、qq、walk_in、letter 或 other",
            "hotline",
            "来源渠道",
        ),
        C("handled_by", "处理单位", _HANDLED_BY, "regulator", "承办单位"),
        C("district", "所属区县", "承办区县的区域代码；默认商户所在区县", "yuzhong", *_DISTRICT),
        C("resolution", "处理结果", "办结方式", "", "办结方式"),
        C("followup", "回访结果", "satisfied、basically_satisfied 等", "", "回访"),
        C("followup_at", "回访时间", _TIME, ""),
        C("party_name", "被投诉方名称", "不在名录中的被投诉方", "", "被投诉方"),
        C("party_address", "被投诉方地址", "", ""),
        C("broken_commitment", "违反承诺", "returns、pay_first 或 marked_prices", "", "违反的承诺"),
    ),
)
VISITS = ImportKind(
    "visits",
    "来访咨询",
    (
        C(
            "external_id",
            "登记编号",
            "该窗口该日的唯一编号",
            "yuzhong-desk-20260512",
            "编号",
            required=True,
        ),
        C("day", "日期", "日期，如 2026-05-12", "2026-05-12", "接待日期", required=True),
        C("visits", "来访人次", "整数", "12", "来访"),
        C("consultations", "咨询人次", "整数", "30", "咨询"),
        C("handled_by", "处理单位", _HANDLED_BY, "regulator", "承办单位"),
        C("district", "所属区县", "区县的区域代码", "yuzhong", *_DISTRICT),
        C("source", "来源", "默认 counter", "counter", "数据来源"),
    ),
)
SPOT_CHECKS = ImportKind(
    "spot-checks",
    "抽检",
    (
        C(
            "campaign",
            "抽检计划编号",
            "同一计划的各行相同",
            "2026-food-1",
            "计划编号",
            required=True,
        ),
        C("campaign_name", "抽检计划名称", "", "2026年食品安全监督抽检", "计划名称", required=True),
        C("year", "年度", "四位年份", "2026", "年份", required=True),
        C("district", "所属区县", "计划所属区县的区域代码；全市计划留空", "", *_DISTRICT),
        C("round", "轮次", "整数，从 1 起", "1", "抽检轮次", required=True),
        C("held_on", "抽检日期", "日期，如 2026-05-12", "2026-05-12", "日期", required=True),
        C("batch_no", "批次编号", "样品批次编号", "SC2026001", "样品编号", required=True),
        C("category", "产品类别", "抽检的产品类别", "火锅底料", "食品类别", required=True),
        C("failed", "是否不合格", "true 或 false，默认 false", "false", "不合格"),
        C("case_opened", "是否立案", "true 或 false，默认 false", "false", "立案"),
        C("uscc", "统一社会信用代码", "被抽检方的信用代码", "91500103MA5U3L0X2K", *_USCC),
        C("party_name", "被抽检方名称", "不在名录中的被抽检方", "", "被抽检单位"),
    ),
)

KINDS: Mapping[str, ImportKind] = {
    k.name: k for k in (AREAS, MERCHANTS, CREDIT, COMPLAINTS, VISITS, SPOT_CHECKS)
}
