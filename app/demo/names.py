"""Made-up names for the demo district: trade names, company and shop names, roads, people.

Any likeness to a real business or person is chance; ID numbers are well formed (GB 11643)
but drawn at random, never a real one's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import date

    from numpy.random import Generator

TRADE_NAMES = (
    "悦动", "力行", "博雅", "青禾", "云栖", "钱塘", "望江", "湖滨", "清波", "南星", "紫阳",
    "凤凰", "吴山", "鼓楼", "河坊", "柳浪", "西子", "金沙", "运河", "之江", "明德", "启航",
    "知行", "乐活", "晨曦", "瑞丰", "锦绣", "华彩", "嘉禾", "益康", "康宁", "安泰", "永和",
    "德润", "恒信", "优品", "尚美", "丽人", "雅韵", "新桥", "涌金", "平海", "中河", "东河",
    "采荷", "四季", "景芳", "笕桥", "九堡", "丁兰", "彭埠", "近江", "秋涛", "复兴", "水澄",
    "钱江", "城站", "胜利", "天元", "百合", "橙子", "米粒", "小鹿", "元气", "星辰", "木棉",
    "青柠", "向阳", "梧桐", "竹韵", "墨香", "拾光",
)  # fmt: skip
"""Made-up trade names (字号); any likeness to a real business is chance."""

COMPANY = {
    "fitness": ("健身有限公司", "体育发展有限公司"),
    "education": ("教育科技有限公司", "艺术培训有限公司"),
    "beauty": ("美容美发有限公司", "美业管理有限公司"),
    "catering": ("餐饮管理有限公司", "餐饮有限公司"),
    "car_wash": ("汽车服务有限公司", "汽车美容有限公司"),
    "laundry": ("洗涤服务有限公司", "干洗有限公司"),
    "retail": ("商贸有限公司", "超市有限公司"),
    "other": ("文化传播有限公司", "摄影有限公司"),
}
"""Endings of a company's name (统一社会信用代码 starting 91), per industry."""

SOLE_TRADER = {
    "fitness": ("健身工作室", "瑜伽馆"),
    "education": ("书画工作室", "琴行"),
    "beauty": ("理发店", "美甲店"),
    "catering": ("面馆", "小吃店"),
    "car_wash": ("洗车店", "汽车美容店"),
    "laundry": ("干洗店", "洗衣店"),
    "retail": ("便利店", "水果店"),
    "other": ("摄影工作室", "宠物店"),
}
"""Endings of an individual business's name (个体工商户, codes starting 92)."""

ROADS = {
    "上城区": ("解放路", "延安南路", "中山南路", "望江路", "秋涛路", "江城路", "清泰街",
              "庆春路", "建国南路", "复兴路", "南星路", "近江路", "景芳路", "采荷路"),
    "西湖区": ("文三路", "教工路", "天目山路", "学院路", "古墩路"),
    "拱墅区": ("莫干山路", "湖墅南路", "大关路", "小河路", "上塘路"),
}  # fmt: skip

SURNAMES = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
)
GIVEN_NAMES = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛",
    "明", "超", "霞", "平", "刚", "晨", "浩", "宇", "秀英", "桂英", "欣怡", "子涵", "梓轩",
    "一诺", "思远", "佳怡", "雨桐", "俊杰", "晓东", "海燕", "建华", "文博", "嘉怡", "子墨",
)  # fmt: skip
ID_REGIONS = ("330102", "330105", "330106", "330108", "330109", "330110")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number(region: str, born: date, sequence: int) -> str:
    """A resident ID number (GB 11643) with its check character; made up, never a real one."""
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return first17 + _ID_CHECK[total % 11]


def business_name(rng: Generator, trade: str, industry: str, district: str, uscc: str) -> str:
    """A company's name (codes starting 91), or an individual business's (92)."""
    if uscc.startswith("92"):  # an individual business: no 有限公司
        ending = SOLE_TRADER[industry][int(rng.integers(2))]
        return f"杭州市{district}{trade}{ending}"
    return f"杭州{trade}{COMPANY[industry][int(rng.integers(2))]}"
