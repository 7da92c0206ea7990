"""A synthetic corpus of reply letters (答复函) in the real format, with questions of known evidence.

`generate(n, seed)` is deterministic, and letter i depends only on the letters before it, so the first 100
letters of `generate(1000, seed)` are `generate(100, seed)`: quality at 100 and 1,000 letters can be compared
on the same questions. Letters share vocabulary on purpose (the same nouns, verbs and sentence shapes with
other places, years and figures), so a question is only answerable by its place/year/figure details. Every
asked fact has a key (place, year, noun, kind) no other letter uses while the key space lasts; a question
whose evidence is not unique to its letter is dropped.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

PLACES = ("鹿城区", "龙湾区", "瓯海区", "洞头区", "乐清市", "瑞安市", "龙港市", "永嘉县", "平阳县", "苍南县",
          "文成县", "泰顺县", "浙南产业集聚区")
YEARS = tuple(range(2015, 2026))
ORGS = ("温州大学", "温州医科大学", "温州理工学院", "浙南科技城", "温州科技大市场", "市人民医院", "市中心医院",
        "温州职业技术学院", "国家大院名校温州联合研究院", "市公共资源交易中心", "市大数据发展管理局", "瓯江实验室")
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
            "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华文辉建国立新晓燕振宇海峰志红玉兰春雷晨阳佳琪"
         "子涵浩然欣怡俊杰雨萱梓轩思远嘉怡博文")
# (abbreviation in the 文号, replying unit, the work it speaks of, suggestion objects)
DEPARTMENTS = (
    ("温科", "温州市科学技术局", "科技创新", ("科技成果转化", "企业研发投入", "科技人才引进", "创新平台建设")),
    ("温财", "温州市财政局", "财政", ("中小微企业融资支持", "政府性融资担保", "涉企资金直达", "财政资金绩效管理")),
    ("温教", "温州市教育局", "教育", ("义务教育优质均衡", "学前教育普惠发展", "职业教育产教融合", "教师队伍建设")),
    ("温经信", "温州市经济和信息化局", "经济和信息化", ("制造业数字化改造", "专精特新企业培育", "工业用地提质增效",
                                            "小微企业园建设")),
    ("温交", "温州市交通运输局", "交通运输", ("城乡公交一体化", "农村公路提档升级", "新能源汽车充电设施",
                                       "港口物流发展")),
    ("温卫", "温州市卫生健康委员会", "卫生健康", ("基层医疗服务能力", "医共体建设", "老年健康服务", "公共卫生应急")),
    ("温农", "温州市农业农村局", "农业农村", ("高标准农田建设", "农村集体经济发展", "农产品品牌培育", "乡村振兴人才")),
    ("温环", "温州市生态环境局", "生态环境", ("污水零直排区建设", "大气污染防治", "固体废物处置", "美丽河湖建设")),
    ("温文", "温州市文化广电旅游局", "文化和旅游", ("文化礼堂建设", "全域旅游发展", "非遗保护传承", "公共文化服务")),
    ("温人社", "温州市人力资源和社会保障局", "人力资源和社会保障", ("高技能人才培养", "稳岗就业", "创业担保贷款",
                                                  "养老保险扩面")),
    ("温民", "温州市民政局", "民政", ("居家养老服务", "养老机构建设", "社区治理创新", "困难群众救助")),
    ("温建", "温州市住房和城乡建设局", "住房和城乡建设", ("老旧小区改造", "保障性租赁住房", "城市更新",
                                              "海绵城市建设")),
)
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
PROJECTS = ("市科技创新综合体", "职业教育实训基地", "区域医疗中心", "城市综合物流枢纽", "垃圾焚烧发电扩建工程",
            "青少年活动中心", "综合客运枢纽", "人才公寓", "智慧养老平台", "数据资源中心", "文化艺术中心",
            "污水处理厂提标工程")
FILLERS = (
    "我们坚持问题导向和需求导向，加强部门协同，形成工作合力。",
    "持续深化“最多跑一次”改革，推动政策直达快享。",
    "定期开展督导检查，及时发现和解决工作中存在的问题。",
    "充分发挥{org}等单位的平台作用，推动资源共享、优势互补。",
    "加强宣传引导，营造全社会共同参与的良好氛围。",
    "建立健全考核评价机制，将工作成效纳入年度考核。",
    "积极争取上级政策和资金支持，统筹做好要素保障。",
    "联合{org}开展专题调研，形成调研报告供决策参考。",
)
CC_POOL = ("市人大常委会代表工委", "市政协提案委", "市府办", "市发展改革委", "市财政局", "鹿城区人大常委会",
           "永嘉县人大常委会", "瑞安市政协", "乐清市人民政府")
CN_DIGITS = "〇一二三四五六七八九"
SEP = "\n"


@dataclass(frozen=True)
class SyntheticQuestion:
    id: str
    question: str
    answers: list[str]
    evidence: str
    kind: str
    doc: str


@dataclass(frozen=True)
class SyntheticLetter:
    doc_number: str
    file_name: str
    text: str
    proposal_kind: str  # 建议 or 提案
    proposal_number: str
    deputies: tuple[str, ...]
    title: str
    unit: str
    date: str  # ISO
    contact_person: str
    contact_phone: str
    sections: tuple[str, ...]  # the 一、… headings
    questions: tuple[SyntheticQuestion, ...] = field(default=())


def cn_number(n: int) -> str:
    """1..99 in Chinese numerals as used in headings (十一, 二十)."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else CN_DIGITS[tens] + "十")
    return head + (CN_DIGITS[ones] if ones or not tens else "")


class _Keys:
    """Globally unique choices: 文号 numbers, names, phones and the keys of asked facts."""

    def __init__(self) -> None:
        self.used: set[Any] = set()

    def claim(self, rng: random.Random, draw: Callable[[], Any], tries: int = 30) -> tuple[Any, bool]:
        """A drawn value not used before (and True), or after `tries` failures a used one (and False)."""
        value = draw()
        for _ in range(tries):
            if value not in self.used:
                self.used.add(value)
                return value, True
            value = draw()
        return value, False


@dataclass
class _Fact:
    sentence: str
    question: str | None  # None when the fact's key was not unique (then nobody asks it)
    answer: str
    kind: str


def _name(rng: random.Random) -> str:
    # Three characters: a two-character name could hide inside ordinary words (高+新 in 高新技术企业), and the
    # chatbot scopes a question to any letter whose deputy it names.
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)


def _count_fact(rng: random.Random, keys: _Keys, plan: bool) -> _Fact:
    # The verb is not part of the key: 新增/建成/完成 of the same thing, place and year in two letters would
    # make a question asked with a paraphrased verb ambiguous.
    def draw() -> tuple[str, ...]:
        noun, _ = rng.choice(COUNTED)
        return ("count", rng.choice(PLACES), str(rng.choice(YEARS)), noun, "plan" if plan else "done")

    (_, place, year, noun, _), unique = keys.claim(rng, draw)
    verb = rng.choice(COUNT_VERBS)[0]
    unit = dict(COUNTED)[noun]
    paraphrase = dict(COUNT_VERBS)[verb]
    n = rng.randint(3, 2999)
    if plan:
        sentence = f"{year}年{place}计划{verb}{noun}{n}{unit}"
        question = f"{place}{year}年打算{verb}多少{unit}{noun}？"
    else:
        sentence = f"{year}年{place}{verb}{noun}{n}{unit}"
        question = f"{year}年{place}{paraphrase}多少{unit}{noun}？"
    return _Fact(sentence, question if unique else None, f"{n}{unit}", "factoid")


def _rate_fact(rng: random.Random, keys: _Keys) -> _Fact:
    def draw() -> tuple[str, ...]:
        return ("rate", rng.choice(PLACES), str(rng.choice(YEARS)), rng.choice(RATES))

    (_, place, year, noun), unique = keys.claim(rng, draw)
    value = f"{rng.randint(20, 99)}.{rng.randint(1, 9)}%"
    sentence = f"截至{year}年底，{place}{noun}达到{value}"
    question = f"到{year}年底{place}的{noun}是多少？"
    return _Fact(sentence, question if unique else None, value, "percent")


def _money_fact(rng: random.Random, keys: _Keys) -> _Fact:
    def draw() -> tuple[str, ...]:
        return ("money", rng.choice(PLACES), str(rng.choice(YEARS)), rng.choice(FUNDS))

    (_, place, year, fund), unique = keys.claim(rng, draw)
    value = f"{rng.randint(1, 99)}.{rng.randint(10, 99)}亿元" if rng.random() < 0.5 else f"{rng.randint(120, 9800)}万元"
    sentence = f"{year}年市财政为{place}安排{fund}资金{value}"
    question = f"{year}年给{place}的{fund}资金有多少钱？"
    return _Fact(sentence, question if unique else None, value, "money")


def _date_fact(rng: random.Random, keys: _Keys) -> _Fact:
    def draw() -> tuple[str, ...]:
        return ("date", rng.choice(PLACES), rng.choice(PROJECTS))

    (_, place, project), unique = keys.claim(rng, draw)
    year, month = rng.choice(YEARS) + 1, rng.randint(1, 12)
    sentence = f"{place}{project}计划于{year}年{month}月底前建成投用"
    question = f"{place}的{project}什么时候能建成投用？"
    return _Fact(sentence, question if unique else None, f"{year}年{month}月", "date")


def _fact(rng: random.Random, keys: _Keys, plan: bool) -> _Fact | None:
    """A fact whose key no other letter uses; when that kind's keys run out, a count, else none at all.

    Never reusing a key keeps every earlier question unambiguous however many letters follow.
    """
    roll = rng.random()
    draws: list[Callable[[], _Fact]] = [lambda: _count_fact(rng, keys, plan)]
    if roll >= 0.45:
        kind = _rate_fact if roll < 0.65 else _money_fact if roll < 0.85 else _date_fact
        draws.insert(0, lambda: kind(rng, keys))
    for draw in draws:
        fact = draw()
        if fact.question is not None:
            return fact
    return None


def _subsection(rng: random.Random, keys: _Keys, plan: bool, facts: list[_Fact]) -> str:
    """一是…。二是…。 items: a lead phrase, usually one fact (sometimes two, sometimes none), a filler."""
    items = []
    for i in range(rng.choice((2, 2, 3))):
        lead = f"{rng.choice(SUGGESTION_VERBS)}{rng.choice(DEPARTMENTS)[3][rng.randrange(4)]}"
        parts = []
        for _ in range(1 + (rng.random() < 0.2) if rng.random() < 0.65 else 0):
            fact = _fact(rng, keys, plan)
            if fact is not None:
                facts.append(fact)
                parts.append(fact.sentence)
        filler = rng.choice(FILLERS).format(org=rng.choice(ORGS))
        said = f"{'，'.join(parts)}。" if parts else ""
        items.append(f"{cn_number(i + 1)}是{lead}。{said}{filler}")
    return "".join(items)


def _letter(index: int, rng: random.Random, keys: _Keys) -> SyntheticLetter:
    abbr, unit, work, objects = rng.choice(DEPARTMENTS)
    proposal = rng.choice(("建议", "提案"))
    year = rng.choice(YEARS)
    serial, _ = keys.claim(rng, lambda: ("serial", abbr, proposal, year, rng.randint(1, 999)), tries=50)
    if not _:
        serial = ("serial", abbr, proposal, year, 1000 + index)  # the small numbers ran out: keep it unique
    doc_number = f"{abbr}{'建' if proposal == '建议' else '提'}复〔{year}〕{serial[4]}号"
    number = str(rng.randint(1, 999))
    deputies = tuple(keys.claim(rng, lambda: ("name", _name(rng)))[0][1] for _ in range(rng.randint(1, 3)))
    phone, _ = keys.claim(rng, lambda: ("phone", f"8{rng.randint(1000000, 9999999)}"))
    contact = _name(rng)
    month, day = rng.randint(4, 9), rng.randint(1, 28)
    title = f"关于{rng.choice(SUGGESTION_VERBS)}{rng.choice(objects)}的{proposal}"
    facts: list[_Fact] = []
    headings, body = [], []
    for s in range(rng.randint(2, 6)):
        heading = f"{cn_number(s + 1)}、关于“{rng.choice(SUGGESTION_VERBS)}{rng.choice(objects)}”的建议"
        headings.append(heading)
        body.append(heading)
        body.append(f"（一）工作进展。{_subsection(rng, keys, False, facts)}")
        body.append(f"（二）下一步工作计划。{_subsection(rng, keys, True, facts)}")
    text = _render(doc_number, proposal, number, year, deputies, title, work, body, contact, phone[1], unit,
                   f"{year}年{month}月{day}日", rng.sample(CC_POOL, rng.randint(2, 3)))
    letter = SyntheticLetter(
        doc_number=doc_number, file_name=f"{doc_number}.txt", text=text, proposal_kind=proposal,
        proposal_number=number, deputies=deputies, title=title, unit=unit, date=f"{year}-{month:02d}-{day:02d}",
        contact_person=contact, contact_phone=phone[1], sections=tuple(headings),
    )
    return _with_questions(letter, facts, rng, phone_unique=_)


def _render(doc_number: str, proposal: str, number: str, year: int, deputies: tuple[str, ...], title: str,
            work: str, body: list[str], contact: str, phone: str, unit: str, date: str, cc: list[str]) -> str:
    people = "、".join(deputies)
    you = "您" if len(deputies) == 1 else "你们"
    session_no = cn_number((year - 2018) % 5 + 1)
    if proposal == "建议":
        head = [f"关于市十四届人大{session_no}次会议{number}号建议的", "答 复 函", "", f"{people}代表："]
        received = (f"{you}在市人大十四届{session_no}次会议期间所提的《{title}》（人大建议{number}号）收悉。"
                    "经调查研究，我们就建议中有关问题答复如下：")
    else:
        head = [f"关于市政协十二届{session_no}次会议第{number}号提案的答复函", "", f"{people}委员："]
        received = f"{you}提出的《{title}》（第{number}号提案）收悉。现答复如下："
    closing = [
        f"非常感谢{you}对我市{work}工作的关心与支持，诚挚希望{you}继续向我们提供宝贵建议。",
        f"联系人：{contact}，联系电话：{phone}。", "", "",
        f"                               {unit}", f"                               {date}", "", "",
        f"抄送：{'，'.join(cc)}", f"{unit}办公室                 {date}印发",
    ]
    return SEP.join([f" {doc_number}", "", "", *head, received, *body, *closing]) + SEP


def _with_questions(letter: SyntheticLetter, facts: list[_Fact], rng: random.Random,
                    phone_unique: bool) -> SyntheticLetter:
    """Up to three fact questions of different kinds and one meta question scoped by 文号 or deputy."""
    questions: list[SyntheticQuestion] = []
    seen_kinds: set[str] = set()
    for fact in rng.sample(facts, len(facts)):
        if fact.question is None or fact.kind in seen_kinds or len(questions) >= 3:
            continue
        seen_kinds.add(fact.kind)
        questions.append(SyntheticQuestion("", fact.question, [fact.answer], fact.sentence, fact.kind,
                                           letter.doc_number))
    if phone_unique:
        evidence = f"联系人：{letter.contact_person}，联系电话：{letter.contact_phone}"
        if rng.random() < 0.5:
            meta = SyntheticQuestion("", f"{letter.doc_number}答复函的联系人是谁？", [letter.contact_person],
                                     evidence, "meta", letter.doc_number)
        else:
            title = "代表" if letter.proposal_kind == "建议" else "委员"
            meta = SyntheticQuestion("", f"{letter.deputies[0]}{title}那份答复函的联系电话是多少？",
                                     [letter.contact_phone], evidence, "meta", letter.doc_number)
        questions.append(meta)
    numbered = tuple(SyntheticQuestion(f"{letter.doc_number}#{i}", q.question, q.answers, q.evidence, q.kind,
                                       q.doc) for i, q in enumerate(questions, start=1))
    return replace(letter, questions=numbered)


def generate(n_letters: int, seed: int = 0) -> list[SyntheticLetter]:
    """`n_letters` letters, deterministic from `seed`; questions whose evidence is not unique are dropped."""
    rng = random.Random(seed)
    keys = _Keys()
    letters = [_letter(i, rng, keys) for i in range(n_letters)]
    return _drop_ambiguous(letters)


def _compact(text: str) -> str:
    return "".join(text.split())


def _drop_ambiguous(letters: list[SyntheticLetter]) -> list[SyntheticLetter]:
    """Drop questions whose evidence occurs in another letter (exact: occurrences counted in every letter)."""
    texts = [_compact(letter.text) for letter in letters]
    counts = _occurrences(texts, {_compact(q.evidence) for letter in letters for q in letter.questions})
    out = []
    for letter in letters:
        kept = tuple(q for q in letter.questions if counts[_compact(q.evidence)] == 1)
        out.append(letter if len(kept) == len(letter.questions) else replace(letter, questions=kept))
    return out


def _occurrences(texts: list[str], needles: set[str]) -> dict[str, int]:
    """How often each needle occurs in all texts together (str.count semantics), in near-linear time.

    Counting each needle in one joined corpus string costs O(needles x corpus): hours at 100,000 letters.
    Instead a regex finds, in C, every position where some needle's first two characters stand; only there
    is the text compared with the needles sharing its first `width` characters. Exact, because every
    occurrence starts at such a position, and each text that holds a needle counts it with str.count.
    """
    counts = dict.fromkeys(needles, 0)
    if not needles:
        return counts
    width = min(len(n) for n in needles)
    by_prefix: dict[str, list[str]] = {}
    for needle in needles:
        by_prefix.setdefault(needle[:width], []).append(needle)
    heads = sorted({needle[:2] for needle in needles}, key=len, reverse=True)
    anchor = re.compile("(?=(?:" + "|".join(re.escape(h) for h in heads) + "))")
    for text in texts:
        found = {needle for match in anchor.finditer(text)
                 for needle in by_prefix.get(text[match.start():match.start() + width], ())
                 if text.startswith(needle, match.start())}
        for needle in found:
            counts[needle] += text.count(needle)
    return counts


def write_corpus(folder: Path, letters: list[SyntheticLetter]) -> list[Path]:
    """Write each letter as <文号>.txt (UTF-8) into `folder`; returns the paths in letter order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for letter in letters:
        path = folder / letter.file_name
        path.write_text(letter.text, encoding="utf-8")
        paths.append(path)
    return paths


def question_rows(letters: list[SyntheticLetter]) -> list[dict[str, Any]]:
    """The letters' questions as rows of the question-file format (chatbot.evaluation)."""
    return [asdict(q) for letter in letters for q in letter.questions]


def write_questions(path: Path, letters: list[SyntheticLetter]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(row, ensure_ascii=False) for row in question_rows(letters)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
