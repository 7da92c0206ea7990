"""The words of the synthetic letters (benchmarks/synthetic.py): places, departments, people and the things
letters count. Plain data; how a letter is put together lives in benchmarks/synthetic_letters.py.
"""

from __future__ import annotations

from dataclasses import dataclass

COUNTY, CITY, PROVINCE = "county", "city", "province"


@dataclass(frozen=True)
class Place:
    name: str  # 泰顺县
    level: str  # COUNTY (counties, districts, county-level cities), CITY or PROVINCE
    parent: str  # the city of a county, the province of a city ("" for a province)
    area_code: str  # of its phone numbers

    @property
    def suffix(self) -> str:
        return self.name[-1]  # 县 / 区 / 市 / 省

    @property
    def short(self) -> str:
        """The name without its suffix (泰顺), or the whole name when one character would remain (攸县)."""
        return self.name[:-1] if len(self.name) > 2 else self.name

    @property
    def we(self) -> str:
        return "我" + self.suffix  # how its own letters speak of it: 我县, 我区, 我市, 我省

    @property
    def whole(self) -> str:
        return "全" + self.suffix  # 全县, 全市, 全省


# province: (area code, {city: (area code, counties, districts and county-level cities)})
_MAP: dict[str, tuple[str, dict[str, tuple[str, tuple[str, ...]]]]] = {
    "浙江省": ("0571", {
        "温州市": ("0577", ("鹿城区", "龙湾区", "瓯海区", "洞头区", "乐清市", "瑞安市", "永嘉县", "平阳县", "苍南县",
                          "文成县", "泰顺县")),
        "丽水市": ("0578", ("莲都区", "青田县", "缙云县", "遂昌县", "松阳县", "云和县", "庆元县")),
    }),
    "云南省": ("0871", {
        "曲靖市": ("0874", ("麒麟区", "沾益区", "宣威市", "会泽县", "富源县", "马龙区", "陆良县", "师宗县")),
    }),
    "甘肃省": ("0931", {
        "张掖市": ("0936", ("甘州区", "民乐县", "临泽县", "高台县", "山丹县")),
    }),
    "湖南省": ("0731", {
        "株洲市": ("0731", ("攸县", "茶陵县", "炎陵县", "醴陵市", "渌口区")),
    }),
}
PLACES = tuple(
    [Place(p, PROVINCE, "", code) for p, (code, _) in _MAP.items()]
    + [Place(c, CITY, p, code) for p, (_, cities) in _MAP.items() for c, (code, _) in cities.items()]
    + [Place(n, COUNTY, c, code) for _, (_, cities) in _MAP.items() for c, (code, ns) in cities.items() for n in ns]
)
PLACE_BY_NAME = {place.name: place for place in PLACES}
CHILDREN = {place.name: tuple(p for p in PLACES if p.parent == place.name) for place in PLACES}
# The 届 of each level's people's congress and CPPCC (县十届人大, 市政协十二届 …).
TERMS = {COUNTY: ("十", "十一"), CITY: ("十四", "十二"), PROVINCE: ("十四", "十三")}


@dataclass(frozen=True)
class Department:
    """A kind of responding unit: its name at each level (None: no such unit there) and the usual short forms
    deputies use for it, the abbreviation in its 文号, the work it thanks for and what suggestions ask of it."""

    names: dict[str, tuple[str, tuple[str, ...]] | None]  # level → (full name after the place, short forms)
    abbr: str
    work: str
    objects: tuple[str, ...]

    def name(self, level: str) -> str | None:
        entry = self.names.get(level)
        return entry[0] if entry else None

    def shorts(self, level: str) -> tuple[str, ...]:
        entry = self.names.get(level)
        return entry[1] if entry else ()


def _same(full: str, *shorts: str, province: str | None = None, p_shorts: tuple[str, ...] = ()) -> dict[
        str, tuple[str, tuple[str, ...]] | None]:
    """A department named alike in counties and cities, and `province` (or alike) at province level."""
    return {COUNTY: (full, shorts), CITY: (full, shorts),
            PROVINCE: (province, p_shorts) if province else (full, shorts)}


DEPARTMENTS = (
    Department(_same("水利局", province="水利厅"), "水", "水利", ("农村饮水安全", "山塘水库除险加固", "中小河流治理",
                                                          "农田水利建设")),
    Department({COUNTY: ("教育体育局", ("教体局",)), CITY: ("教育局", ()), PROVINCE: ("教育厅", ())}, "教", "教育",
               ("义务教育优质均衡", "学前教育普惠发展", "职业教育产教融合", "教师队伍建设")),
    Department(_same("住房和城乡建设局", "住建局", province="住房和城乡建设厅", p_shorts=("住建厅",)), "住建",
               "住房和城乡建设", ("老旧小区改造", "保障性租赁住房", "城市更新", "既有住宅加装电梯")),
    Department(_same("交通运输局", "交通局", province="交通运输厅", p_shorts=("交通厅",)), "交", "交通运输",
               ("城乡公交一体化", "农村公路提档升级", "新能源汽车充电设施", "港口物流发展")),
    Department({COUNTY: ("卫生健康局", ("卫健局",)), CITY: ("卫生健康委员会", ("卫健委",)),
                PROVINCE: ("卫生健康委员会", ("卫健委",))}, "卫", "卫生健康",
               ("基层医疗服务能力", "医共体建设", "老年健康服务", "公共卫生应急")),
    Department(_same("农业农村局", "农业局", province="农业农村厅", p_shorts=("农业厅",)), "农", "农业农村",
               ("高标准农田建设", "农村集体经济发展", "农产品品牌培育", "乡村振兴人才")),
    Department(_same("民政局", province="民政厅"), "民", "民政", ("居家养老服务", "养老机构建设", "社区治理创新",
                                                           "困难群众救助")),
    Department(_same("人力资源和社会保障局", "人社局", province="人力资源和社会保障厅", p_shorts=("人社厅",)), "人社",
               "人力资源和社会保障", ("高技能人才培养", "稳岗就业", "创业担保贷款", "零工市场建设")),
    Department(_same("市场监督管理局", "市场监管局"), "市监", "市场监管", ("校园食品安全", "农贸市场改造",
                                                                "消费维权", "特种设备安全")),
    Department({COUNTY: ("综合行政执法局", ("执法局", "综合执法局")),
                CITY: ("综合行政执法局", ("执法局", "综合执法局")), PROVINCE: None}, "执法", "综合行政执法",
               ("占道经营整治", "城市停车管理", "违法建筑治理", "市容环境提升")),
    Department(_same("残疾人联合会", "残联"), "残联", "残疾人", ("残疾人就业帮扶", "无障碍环境建设",
                                                         "残疾儿童康复救助", "残疾人托养服务")),
    Department(_same("林业局"), "林", "林业", ("森林防火", "国土绿化", "林下经济发展", "古树名木保护")),
    Department(_same("应急管理局", "应急局", province="应急管理厅", p_shorts=("应急厅",)), "应急", "应急管理",
               ("防汛防台", "安全生产监管", "应急救援队伍建设", "避灾安置场所建设")),
    Department({COUNTY: ("发展和改革局", ("发改局",)), CITY: ("发展和改革委员会", ("发改委",)),
                PROVINCE: ("发展和改革委员会", ("发改委",))}, "发改", "发展改革",
               ("重大项目建设", "山区海岛县高质量发展", "物价监测", "以工代赈")),
    Department(_same("科学技术局", "科技局", province="科学技术厅", p_shorts=("科技厅",)), "科", "科技创新",
               ("科技成果转化", "企业研发投入", "科技人才引进", "创新平台建设")),
    Department(_same("财政局", province="财政厅"), "财", "财政", ("中小微企业融资支持", "政府性融资担保",
                                                           "涉企资金直达", "财政资金绩效管理")),
)
# How a unit speaks of itself, by how its name ends: 我局, 我厅, 我委 (…委员会), 我会 (…联合会).
WE_UNIT = (("委员会", "我委"), ("联合会", "我会"), ("厅", "我厅"), ("局", "我局"))

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
            "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华文辉建国立新晓燕振宇海峰志红玉兰春雷晨阳佳琪"
         "子涵浩然欣怡俊杰雨萱梓轩思远嘉怡博文凯琳婷慧颖鑫宁倩蕾薇飞鹏斌彬亮健坤翔瑶璐蓉梅莉萍岚洁琴昊宸悦")
YEARS = tuple(range(2015, 2026))
SUGGESTION_VERBS = ("加快", "推进", "强化", "优化", "完善", "深化", "加大", "健全", "支持", "提升")
# (noun, measure word) counted in the letters: shared by all departments so that letters look alike.
COUNTED = (
    ("高新技术企业", "家"), ("科技型中小企业", "家"), ("概念验证中心", "家"), ("中试平台", "个"),
    ("技术攻关项目", "项"),
    ("科技特派员", "名"), ("新建学校", "所"), ("普惠性幼儿园", "所"), ("新增学位", "个"), ("骨干教师", "名"),
    ("充电桩", "个"), ("公交线路", "条"), ("养老床位", "张"), ("社区卫生服务站", "家"), ("农村公路", "公里"),
    ("污水管网", "公里"), ("绿道", "公里"), ("文化礼堂", "家"), ("小微企业园", "个"), ("创业担保贷款", "笔"),
    ("专精特新企业", "家"), ("数字化车间", "个"), ("高标准农田", "万亩"), ("保障性租赁住房", "套"),
    ("老旧小区", "个"), ("家庭医生签约服务团队", "支"), ("非遗工坊", "家"), ("研学基地", "个"), ("技能人才", "人"),
    ("就业见习岗位", "个"), ("居家养老服务中心", "家"), ("美丽河湖", "条"), ("口袋公园", "个"), ("物流园区", "个"),
    ("招商项目", "个"), ("农业龙头企业", "家"), ("共享法庭", "个"), ("城市书房", "家"), ("培训班次", "期"),
    ("志愿服务队", "支"),
)
# (what the letter says, how a deputy asks it)
COUNT_VERBS = (("新增", "新增了"), ("建成", "建好了"), ("累计培育", "一共培育了"), ("完成", "完成了"),
               ("新认定", "新认定了"))
RATES = ("企业研发投入强度", "义务教育入学率", "垃圾分类覆盖率", "城乡居民医保参保率", "生活污水处理率",
         "公交分担率", "规上工业企业数字化改造覆盖率", "家庭医生签约率", "农村自来水普及率", "空气质量优良天数比例",
         "养老机构护理型床位占比", "职业院校毕业生就业率", "政务服务网办率", "高标准农田占比")
FUNDS = ("科技创新专项", "产业发展引导", "教育发展专项", "农村公路养护", "乡村振兴专项", "污水治理",
         "文化旅游发展", "就业补助", "养老服务补助", "老旧小区改造补助", "人才发展专项", "公共卫生服务")
PROJECTS = ("科技创新综合体", "职业教育实训基地", "区域医疗中心", "综合物流枢纽", "垃圾焚烧发电扩建工程",
            "青少年活动中心", "综合客运枢纽", "人才公寓", "智慧养老平台", "数据资源中心", "文化艺术中心",
            "污水处理厂提标工程")
# No place names here: a letter's body speaks of its own place as 我县 / 全市, and a filler naming another
# place would satisfy a question about that place.
ORGS = ("高校院所", "行业协会", "龙头企业", "乡镇（街道）", "村（社区）", "第三方机构", "科研院所", "专家团队")
FILLERS = (
    "{we}坚持问题导向和需求导向，加强部门协同，形成工作合力。",
    "持续深化“最多跑一次”改革，推动政策直达快享。",
    "定期开展督导检查，及时发现和解决工作中存在的问题。",
    "充分发挥{org}等单位的作用，推动资源共享、优势互补。",
    "加强宣传引导，营造全社会共同参与的良好氛围。",
    "建立健全考核评价机制，将工作成效纳入年度考核。",
    "积极争取上级政策和资金支持，统筹做好要素保障。",
    "{we}联合{org}开展专题调研，形成调研报告供决策参考。",
)
CONTENT_CLASSES = ("城乡建设", "教育卫生", "农业农村", "社会保障", "交通运输", "生态环境", "经济发展", "民生保障")
LATIN = "ABCDEFGHJKLMNPQRSTWXYZ"  # the letters of a 自编号 (YZF-2024-036)
CN_DIGITS = "〇一二三四五六七八九"
