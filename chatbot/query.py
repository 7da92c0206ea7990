"""Question analysis: what is asked (a number, a date, a name, a letter's field), its content terms,
years and qualifiers, the letter it names, and the context a follow-up leaves out.

Everything here is cheap and explainable; retrieval and answer use it to rerank, to pick the quote,
to extract the short answer and to decide that the letters do not answer.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from .lexicon import (
    attribute_units,
    field_labels,
    fillers,
    measure_words,
    place_suffixes,
    role_words,
    synonym_map,
    unit_group,
    unit_suffixes,
)
from .names import department_short_names, full_names

# What kind of value a question asks for.
COUNT = "count"  # 几家 / 多少 / 规模多大 → a number with a measure word
DATE = "date"  # 哪天 / 什么时候
LIST = "list"  # 哪些 / 哪几
WHAT = "what"  # 什么 / 怎么 / 如何: answered by a sentence
PLACE = "place"  # 哪里 / 在哪 / 哪个区: the sentence must name a place
META = "meta"  # a field of the letter itself (文号, 代表, 联系人, 抄送 …)

UNITS = "|".join(re.escape(w) for w in measure_words())  # chatbot/data/measure_words.txt, longest first
# Which part or period a figure is of (二期 vs 一期, 上半年 vs 全年): as telling as a noun.
PART_RE = re.compile(
    r"[一二三四五六七八九十\d]+期(?![间限末初])|第[一二三四五六七八九十\d]+批|[上下]半年|全年|[一二三四]季度|前三季度"
    r"|第[一二三四五六七八九十\d]+次|国家级|省级|市级|县级|区级|春节|国庆|五一|元旦|端午|中秋|清明|汛期|暑期|暑假|寒假|夜间|晚上|夜里|白天|周末"
)
MODALS = frozenset("能可会要都就还也才再是从在把给对被")  # jieba glues these to the word beside them: 能贷, 券能
COMMON_WORD_FREQ = 1000  # jieba's count above which a two-character word is everyday language
# What 多少/几 may ask for: not a place suffix (多少省级补助, 几个县 asks 个).
ASKED_UNITS = "|".join(re.escape(w) for w in measure_words() if w not in place_suffixes())
NUMBER = r"(?:\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千]+)"
# 几家 / 多少人次 / 哪三支 / 多少 — the question word with the measure word it asks for.
# 多少万亩 asks for 亩 (万 is the magnitude); 多少万 alone asks for 万.
ASK_COUNT_RE = re.compile(
    rf"(?:几|多少|哪[一二三四五六七八九十几]?)\s*(?:[万亿](?=(?:{ASKED_UNITS})))?(?P<unit>{ASKED_UNITS})?"
)
# Questions that name the unit without a measure word: 百分之多少 → %, 多少钱 → 元.
ASK_UNIT_RES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"百分之(?:几|多少)|百分比|百分点|几成"), "%"),
    (re.compile(r"多少钱|多少资金|多少经费|多少金额"), "元"),
    (re.compile(r"多少倍|几倍|放大.{0,4}(?:多少|几)"), "倍"),
    (re.compile(r"多长时间|多久|多少时间|(?:期限|时间|周期|工期|时长|期)多长"), "时长"),
    (re.compile(r"多长|多远|多宽|多高"), "长度"),
)
ASK_SIZE_RE = re.compile(r"多大|多高|多长|多少|几|规模|比例|金额|比重|百分之|人数|数量|总数")
# Words next to a date question word that are no event of their own (什么时候开始, 计划什么时候).
PLAN_WORDS = frozenset({"计划", "打算", "预计", "准备", "争取", "力争", "要", "能", "将", "开始", "进行", "实施",
                        "开展", "推进", "落实"})
ASK_ANY_RE = re.compile(r"几|多少|多大|多长|多久|哪|什么|谁|怎么|如何|是否|有没有|吗")
EVENT_REACH = 2  # characters between a date question word and its event: 什么时候(能)建成
ASK_DATE_RE = re.compile(
    r"哪天|哪一天|什么时候|何时|什么时间段?|哪个月份?|几月份?|日期|哪一年|哪年|几日|几号(?!建议|提案|文|线)|几点")
ASK_LIST_RE = re.compile(r"哪些|哪几|有什么|包括什么|包含什么|分别是")
ASK_PLACE_RE = re.compile(  # (卡在哪 asks a difficulty)
    r"哪里|(?<!卡)在哪|哪个区|哪个县|哪个地方|什么地方|哪些地方|什么地点|哪个位置|哪个镇|哪个园区")
# Questions whose answer is the organisation that built or runs something (哪家公司中标, 由哪个施工单位承建).
ASK_ORG_RE = re.compile(
    r"(?:哪家|哪个|哪一家|什么)(?:施工|建设|运营)?(?:公司|企业|单位|机构).{0,4}(?:中标|承建|施工|运营|建设|来建|负责建|修建)"
    r"|由哪(?:家|个).{0,8}(?:承建|施工|运营|实施)|谁(?:承建|施工|中标|运营)"
)
ORG_RE = re.compile(
    r"[\u4e00-\u9fff]{2,}(?:公司|集团|银行|医院|学校|大学|学院|研究院|研究所|中心|协会|商会|合作社|委员会|局|厅|委|办|部|站)"
)
# 几个 asking for people (几个特邀调解员, 多少个留守娃): letters count them by 名 / 人 / 位.
PEOPLE_COUNTED_RE = re.compile(
    r"[\u4e00-\u9fff]{0,5}?(?:人员|员|娃|孩子|儿童|学生|老师|教师|医生|志愿者|骑手|农民|村民|居民|女孩|男孩|妇女|老人"
    r"|官|警|干部|职工|护士|专家|律师|患者|病人|家长)")
PLACE_RE = re.compile(
    r"[\u4e00-\u9fff]{2,8}(?:区|县|市|镇|乡|街道|园区|开发区|新区|小镇|基地|村|科创园|产业园|工业园|物流园|科技园|创业园)"
    r"|[\u4e00-\u9fff]{2,6}(?:、[\u4e00-\u9fff]{2,6})+等?\d*个?(?:省|市|县|区|镇|乡|村|地)"  # 济南、青岛、潍坊3市
)
# Question words after which the next word names the kind of answer (哪家公司, 什么阶段): that word is
# framing, not content, so a passage need not repeat it.
ASK_TOKEN_RE = re.compile(rf"哪?(?:几|多少|哪)(?:{ASKED_UNITS})?")  # jieba's 几个 / 哪几个: a question word
# (A bare 那 opens a follow-up, "那今年国庆期间呢": it points back to no word after it.)
DEMONSTRATIVE_WORD_RE = re.compile(r"这个|那个|这项|那项|该|此|这些|那些|这")
QUESTION_WORD_RE = re.compile(r"^(?:哪(?:家|个|位|些|种|类|所|项|一|几)?|什么|何种|何)")
ASK_WHAT_RE = re.compile(r"什么|怎么|怎样|如何|哪种|哪类|为什么|举措|措施")
YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年?")
# Words that narrow what a figure is of: a total does not answer 每所学校 / 最高 / 平均.
QUALIFIER_RE = re.compile(
    rf"每\d+万?人|每(?:{UNITS}|人|生)|平均|人均|户均|亩均|最高|最多|最低|最少|首次|首批|单个|最早|最晚|首个")
PER_ONE_RE = re.compile(
    rf"(?<![\d一二三四五六七八九十])一(?!年|个月|月|天|日|周|小时)({UNITS})(?![图网码屏])"  # not 一张图
    rf"(?=[^，,。？?]{{0,10}}?(?:多少钱|多少元|什么价|价格|单价))")
# The time of what is asked: a plan (打算新增多少) or a result (新增了多少). Letters answer both, in
# "（一）工作进展" and "（二）下一步工作计划", often with the same nouns, places and years.
PLAN, DONE = "plan", "done"
ASK_PLAN_RE = re.compile(
    r"计划|打算|预计|准备|将要|将会|下一步|下步|今后|接下来|后续|力争|明年|未来|目标|(?<![需主只])要(?![求素])"
)
# Words that only say a question asks of plans (目标是多少, 打算怎么办): the tense check weighs them, a passage
# need not repeat them (they are never strong terms) ("明确到2025年…达到9000万亩" states a 目标 without the word).
TENSE_WORDS = frozenset({"计划", "打算", "预计", "准备", "将要", "将会", "下一步", "下步", "今后", "力争", "未来",
                         "目标", "接下来", "后续", "以后", "往后"})
ASK_DONE_RE = re.compile(r"已经|已|了(?:多少|几|哪|什么)|现在|目前|当前|现有|截至|截止")
PERCENT = frozenset({"%", "个百分点", "百分点"})
_HAN_RE = re.compile(r"[\u4e00-\u9fff]+")
RATE_ENDINGS = ("率", "占比", "比例", "比重", "强度")
FOLLOW_UP_DEPTH = 4  # a follow-up of a follow-up … leans on at most this many questions before it
FOLLOW_UP_RE = re.compile(
    r"^(?:那|那么|还有|另外|此外|其中|这个|这项|这些|那个|那些|该|此|它)|呢[？?。]*$|(?:那份|这份|那封|这封|的)[。.!！]?$"
)
# (明年 is left out: deputies say it of a plan loosely, "明年担保费率" for the letter's own 2024年计划.)
RELATIVE_YEAR_RES = ((0, re.compile(r"今年|本年度?")), (-1, re.compile(r"去年|上一?年")), (-2, re.compile(r"前年")))
# 乡村的有多少, 其中农村的呢: the part of what was just asked about.
PART_OF_RE = re.compile(r"[\u4e00-\u9fff]{1,6}的(?:有|是|占)?(?:多少|几)")
PUNCT_RE = re.compile(r"[\s，。？！?!,.：:；;、“”\"'‘’（）()《》〈〉【】\[\]—…·-]+")

# After 电话, words that make it a service the letter speaks of, not the letter's own contact line.
_NOT_PHONE = r"[\u4e00-\u9fff]{0,3}(?:率|量|次数)|回访|接听|接通|咨询|服务|热线|线路|办理|[^，,。？?]{0,3}[次个通]"
# A field of the letter itself: (field, pattern). Order matters: the first match wins.
META_FIELDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("doc_number", re.compile(r"文号|发文字号|发文编号")),
    ("cc", re.compile(r"抄送|抄报")),
    ("contact", re.compile(
        r"(?:联系人|联系谁|找谁).{0,6}(?:电话|联系方式)|(?:电话|联系方式).{0,4}联系人|怎么联系|如何联系")),
    # 电话 of the letter, not of a service the letter speaks of (热线电话接通率, 电话回访)
    ("contact_phone", re.compile(rf"联系电话|联系方式|(?<!热线)(?<!呼救)(?<!急救)(?<!报警)(?<!求助)电话(?!{_NOT_PHONE})"
                                 r"|手机|号码")),
    ("contact_person", re.compile(r"联系人|联络人|找谁联系|联系谁|经办人|承办人")),
    (
        "deputy",
        re.compile(
            r"哪[两二三四五六七八九十几]?(?:位|个|名)(?:代表|委员)|哪些(?:代表|委员)|哪几位|代表是谁|委员是谁|谁提|谁的建议"
            r"|谁的提案|提出人|哪(?:家|个)(?:单位|党派|组织|团体)?提"
            r"|答复的?是谁|答复谁|给谁的答复|答复哪位|回复谁|回复的是谁"
        ),
    ),
    ("session", re.compile(r"哪一?次[\u4e00-\u9fff]{0,3}会|什么会议|(?:什么|哪个)会上|哪个会议|哪届会议|哪一届")),
    ("proposal_number", re.compile(r"几号建议|几号提案|第几号|建议号|提案号|编号")),
    ("unit", re.compile(
        r"哪个单位|哪个部门|哪家单位|什么单位|什么部门|答复单位|办理单位|谁答复|谁回复"
        r"|落款(?!.{0,4}(?:日期|时间|哪天|哪一天|什么时候|几号|何时))")),
    (
        "date",
        re.compile(
            r"(?:哪天|什么时候|何时|日期|哪一天|哪日|几号).{0,6}(?:答复|回复|发出|印发|发文|落款|签发|发的|发)"
            r"|(?:答复|回复|发文|印发|落款|复函)的?(?:日期|时间)"
            r"|(?:答复|回复|复函|落款)(?:(?!说|讲|提到|里|中)[^，,。；;？?]){0,8}(?:哪天|哪一天|什么时候|何时|日期|几号)"
        ),
    ),
    ("title", re.compile(r"标题|题目|什么建议|哪个建议|哪件建议|什么提案|哪个提案|建议名称")),
)
# A letter named in a question (温财提复〔2024〕15号, 817号建议, 第156号提案): it scopes the question, it is
# not a term a passage must repeat.
DOC_REF_RE = re.compile(
    r"[\u4e00-\u9fff]{1,10}[〔\[［(（]\d{4}[〕\]］)）]\s*\d+\s*号|第?\s*\d+\s*号(?:代表建议|委员提案|建议|提案|文|答复函|复函|函)?"
    r"|(?:人大建议|政协提案)\s*\d+\s*号"
)
REFERENCE_SUFFIX = r"(?:代表建议|委员提案|建议|提案|答复函|复函|文|函)?"  # 8号文, 91号答复函, 182号建议
LETTER_WORDS_RE = re.compile(r"答复函|复函|这份|这封|本函|该函|答复|回复|来函|建议|提案")


@dataclass(frozen=True)
class Term:
    text: str
    weight: float  # 1.0 for nouns and long terms, 0.5 for verbs and other words
    variants: tuple[str, ...]  # the term and its synonyms, NFKC
    rarity: float = 1.0  # set by retrieval from the index: words in every passage decide little

    @property
    def strong(self) -> bool:
        return self.weight >= 1.0

    @property
    def mass(self) -> float:
        """What the term counts for in a passage's coverage."""
        return self.weight * self.rarity


@dataclass(frozen=True)
class Question:
    text: str  # as asked, NFKC, stripped
    search_text: str  # what retrieval embeds and BM25-searches (with a follow-up's context)
    kind: str  # COUNT, DATE, LIST, WHAT, META
    unit: str | None = None  # the measure word asked for (家, 人次, 支 …)
    meta_field: str | None = None  # with META: doc_number, cc, contact, deputy, proposal_number, unit, date, title
    terms: tuple[Term, ...] = ()
    context_terms: tuple[Term, ...] = ()  # from the previous question of a follow-up: optional evidence
    years: tuple[str, ...] = ()
    relative_year: int | None = None  # 今年 0, 去年 -1: a year counted from the letter's own
    qualifiers: tuple[str, ...] = ()
    tense: str | None = None  # PLAN, DONE, or None when the question does not say
    is_follow_up: bool = False
    previous: str | None = None
    counted: str | None = None  # 多少个行政村 → 行政村: what a figure that answers must count
    names: tuple[str, ...] = ()  # what the question names letters by (their units, places, people, titles)
    scope_doc_ids: tuple[str, ...] = field(default_factory=tuple)

    @property
    def references(self) -> tuple[str, ...]:
        """Documents the question names by number (温政办〔2023〕64号, 817号建议)."""
        return tuple(compact(m.group(0)) for m in DOC_REF_RE.finditer(self.text))

    def with_terms(self, texts: Sequence[str]) -> Question:
        """The question with extra strong terms (a named document that is not a letter of the index)."""
        extra = tuple(Term(t, 1.0, (t,)) for t in texts if t not in {x.text for x in self.terms})
        return replace(self, terms=self.terms + extra)


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def compact(text: str) -> str:
    """NFKC without any whitespace: how evidence and terms are compared with passages."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


_jieba_lock = threading.Lock()
_tagger: Any = None


def _posseg() -> Any:
    """jieba's POS tagger over the index's dictionary plus the question words below, built once (thread-safe)."""
    global _tagger
    if _tagger is None:
        with _jieba_lock:
            if _tagger is None:
                _tagger = _new_tagger()
    return _tagger


def _new_tagger() -> Any:
    import jieba.posseg

    from .tokens import tokenizer_copy

    words = tokenizer_copy()
    for word in [*synonym_map(), *attribute_units()]:  # 占比是多少 → 占比 / 是 / 多少
        words.add_word(word)
    for word in department_short_names():  # 工信部和人社部 → 工信部 / 和 / 人社部
        words.add_word(word, tag="nt")
    # jieba.posseg.dt read the POS tags of jieba's dictionary when imported: copy them rather than
    # have POSTokenizer's constructor parse dict.txt again (~1 s).
    tagger = jieba.posseg.POSTokenizer.__new__(jieba.posseg.POSTokenizer)
    tagger.tokenizer = words
    tagger.word_tag_tab = dict(jieba.posseg.dt.word_tag_tab)
    tagger.word_tag_tab.update(dict.fromkeys(department_short_names(), "nt"))
    return tagger


def is_word(text: str) -> bool:
    """Whether jieba's dictionary (with the index's words) knows `text` as a word."""
    return _posseg().tokenizer.FREQ.get(text, 0) > 0


@lru_cache(maxsize=1024)
def place_words(text: str) -> frozenset[str]:
    """The words of `text` that jieba tags as place names (平潭, 霞浦): a place named without its suffix.
    Cached: the rerank asks it of the same question for every window."""
    return frozenset(pair.word for pair in _posseg().lcut(text) if pair.flag == "ns" and 2 <= len(pair.word) <= 4)


def warm_up_in_background() -> threading.Thread:
    """Load jieba's dictionary and POS tags (~2 s of a cold start) in a thread, beside the model and index.

    Much of loading a model and an index runs outside Python's GIL (file reads, onnxruntime, FAISS), so
    the two overlap on a machine with two cores.
    """
    thread = threading.Thread(target=_posseg, name="jieba-warm-up", daemon=True)
    thread.start()
    return thread


def units_answering(word: str) -> frozenset[str]:
    """The units of a figure that answers the attribute `word`: the table's, and % for any rate
    (覆盖率, 参保率, 研发投入强度 …), which the table cannot list one by one."""
    found = attribute_units().get(word)
    if found is not None:
        return found
    if word.endswith("额") or (len(word) >= 3 and word.endswith(("费", "资金", "资本", "专项债", "债券"))):
        # 总额, 贷款额, 易地建设费, 补助资金: an amount of money
        return attribute_units()["金额"]
    return PERCENT if len(word) >= 2 and word.endswith(RATE_ENDINGS) else frozenset()




def content_terms(text: str, names: Sequence[str] = (), references: Sequence[str] = ()) -> tuple[Term, ...]:
    """The words of a question that a passage must speak of, weighted, with their synonyms.

    Nouns and long words weigh 1 and are "strong" (a passage lacking one does not answer); verbs and
    other words weigh 0.5; the word right after a question word (哪家公司, 什么阶段) names the kind of
    answer and weighs 0.25; words about the suggestion process (代表, 建议, 部门) weigh 0.25. `names` (a
    letter's unit, place, people or title: 交通运输部, 何春兰代表) are strong terms of their own, never cut
    apart; `references` (浙交复23号, 91号) only say which letter is meant and are dropped.
    """
    text = normalize(text)
    named = {name: Term(name, 1.0, (name,)) for name in sorted(names, key=len, reverse=True)
             if re.search(r"\s*".join(map(re.escape, name)), text)}
    text = YEAR_RE.sub(" ", DOC_REF_RE.sub(" ", _without(_without(text, references), names, suffix="")))
    for pattern, _ in ASK_UNIT_RES:
        text = pattern.sub(" ", text)
    text = ASK_DATE_RE.sub(" ", text)  # 几月份定的: not 几月 / 份定
    text = re.sub(rf"(?:几|多少)\s*(?:{ASKED_UNITS})?|{NUMBER}\s*(?:{UNITS})", " ", text)
    terms: dict[str, Term] = named
    after_question_word = first_after = after_demonstrative = False
    for word, flag in _glue_rates(_posseg().lcut(text)):
        word = word.strip()
        if not word:
            continue
        if PUNCT_RE.fullmatch(word):
            after_question_word = False
            continue
        if ASK_DATE_RE.fullmatch(word):  # 哪一年 / 哪天 ask a date: the next word is the event, not framing
            continue
        if QUESTION_WORD_RE.fullmatch(word) or ASK_TOKEN_RE.fullmatch(word):
            after_question_word = first_after = True  # 哪些 (…地方): the kind of answer
            continue
        if DEMONSTRATIVE_WORD_RE.fullmatch(word):
            after_demonstrative = True  # 这个 (…项目): what was spoken of before, never required again
            continue
        glued = QUESTION_WORD_RE.sub("", word) if len(word) > 2 else word
        if glued != word:  # 哪些地方: the word the question word asks about names the kind of answer
            after_question_word, first_after, word = True, True, glued
        word = _without_modal(word)
        if len(word) < 2 or word in fillers() or word.isdigit():
            after_question_word = after_question_word and len(word) < 2  # 哪些(的)… but not 什么时候能…
            continue
        strong = flag[:1] in {"n", "j", "e", "l", "i"} or flag in {"vn", "nz"} or len(word) >= 4 or bool(
            PART_RE.fullmatch(word))
        # 哪些安全设施 / 哪些培训项目: the noun phrase after the question word names the kind of answer
        framing = after_question_word and (first_after or flag[:1] in {"n", "a"})
        weak = after_demonstrative or not strong or word in TENSE_WORDS  # 目标 is asked, not required
        weight = 0.25 if framing or word in role_words() else 0.5 if weak else 1.0
        after_question_word = framing and flag[:1] in {"n", "a"}
        first_after = after_demonstrative = False
        variants = tuple(sorted(synonym_map().get(word, frozenset({word})) | full_names(word)))
        terms.setdefault(word, Term(word, weight, variants))
    return tuple(terms.values())


def _without_modal(word: str) -> str:
    """A word jieba glued to a modal or adverb (能贷, 券能, 都有) without it, unless it is a word of its own."""
    if len(word) < 2 or _posseg().tokenizer.FREQ.get(word, 0) >= COMMON_WORD_FREQ:
        return word
    if word[0] in MODALS:
        return word[1:]
    return word[:-1] if word[-1] in MODALS else word


def _without(text: str, names: Sequence[str], suffix: str = REFERENCE_SUFFIX) -> str:
    """`text` with each of `names` (spaces between its characters allowed, and what may follow a reference:
    8号文, 91号答复函) blanked out, longest first."""
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(r"\s*".join(map(re.escape, name)) + suffix, " ", text)
    return text


_NOT_GLUED = frozenset("省市县区镇乡村街路时年月日天中上下前后证报")  # a place or time of its own (全国/县中)


def _glue_rates(pairs: list[Any]) -> list[tuple[str, str]]:
    """jieba's (word, flag) pairs with the pieces of one noun joined: a lone 率 to the word before it (分担/率 →
    分担率), a lone noun character to the noun before it (中医/阁 → 中医阁, 岸/电 → 岸电), and a noun cut with
    its locative (服务/团里 → 服务团): a piece alone is either dropped or matches too much."""
    out: list[tuple[str, str]] = []
    for pair in pairs:
        word, flag = pair.word, pair.flag
        before = out[-1] if out and _HAN_RE.fullmatch(out[-1][0]) else None
        if before is None:
            out.append((word, flag))
            continue
        noun = (before[1][:1] in {"n", "j"} or before[1] == "vn") and before[1] not in {"ns", "nr", "nt"}
        lone = len(before[0]) != 1 or before[0] not in _NOT_GLUED
        piece = len(word) == 1 and flag in {"n", "ng"} and word not in _NOT_GLUED
        if noun and len(word) == 2 and word[1] in "里内" and flag[:1] == "n" and word[0] not in _NOT_GLUED:
            out[-1] = (before[0] + word[0], "n")
        elif word == "率" or (noun and lone and piece):
            out[-1] = (before[0] + word, "n")
        else:
            out.append((word, flag))
    return out


# Words of questions about a letter's fields that no pattern above names alone.
FIELD_WORDS = frozenset({"联系", "联络", "电话", "日期", "时间", "落款", "签发", "类别", "编号", "号码", "标题", "题目",
                         "经办", "承办", "负责人", "具体",
                         "名称", "单位", "部门", "科室", "处室", "会议", "届次", "发文", "印发", "盖章", "公章"})
# Labelled fields that have a field of LetterMeta of their own; the others are asked by their label.
_LABELLED_AS = {"联系人": "contact_person", "联系电话": "contact_phone", "提案人": "deputy",
                "承办单位": "unit", "建议号": "proposal_number", "提案号": "proposal_number", "抄送": "cc",
                "标题": "title"}
_CATEGORY_RE = re.compile(r"哪一?类|什么类别|几类|[ABC]类|类别")
# A labelled field asked without its label: 哪天交办的 → 交办日期.
_FIELD_PHRASES = (
    (re.compile(r"交办.{0,4}(?:哪天|哪一天|什么时候|日期|时间|何时)|(?:哪天|什么时候|何时)交办"), "交办日期"),
    (re.compile(r"谁签发|签发的?是谁|哪位领导签发|谁签的"), "签发人"),
)


def labelled_field(text: str) -> str | None:
    """The labelled line a question asks for: 办复类别是哪一类 → 办复类别 (chatbot/data/field_labels.tsv)."""
    labels = [label for label in field_labels() if len(label) >= 3 and label in text]
    named = {field_labels()[label] for label in labels}
    if "联系人" in named and ("联系电话" in named or re.search(r"电话|联系方式|手机|号码", text)):
        return "contact"  # 联系人和电话: both
    if labels:
        name = field_labels()[max(labels, key=len)]
        return _LABELLED_AS.get(name, name)
    if _CATEGORY_RE.search(text) and LETTER_WORDS_RE.search(text):
        return "办复类别"
    return next((name for pattern, name in _FIELD_PHRASES if pattern.search(text)), None)


def names_unit(word: str, text: str) -> bool:
    """Whether a word of the question is, or begins, a unit's name: 交通运输局, 交通运输 of 交通运输厅."""
    if len(word) >= 3 and word.endswith(unit_suffixes()):
        return True
    at = text.find(word)
    return at >= 0 and text.startswith(unit_suffixes(), at + len(word))


def is_field_word(word: str, asked: str = "") -> bool:
    """Whether a word of a question names a field of the letter (文号, 联系人, 办复类别, 落款, 签发) rather than
    what the letter is about; also a part of a label the question `asked` says (领衔 of 领衔代表)."""
    return (word in field_labels() or word in FIELD_WORDS or labelled_field(word) is not None
            or any(pattern.search(word) for _, pattern in META_FIELDS)
            or any(word in label for label in field_labels() if len(label) >= 3 and label in asked))


def asked_label(text: str, labels: Iterable[str]) -> str | None:
    """The field a question asks for among a letter's own labels (承办科室, 联系单位, 索引号 …): one the question
    names, or a four-character one whose two halves it names (哪个科室承办 → 承办科室); None when it names none."""
    asked = compact(text)
    named = [label for label in labels if len(label) >= 3 and (
        label in asked or (len(label) == 4 and label[:2] in asked and label[2:] in asked))]
    if not named:
        return None
    name = field_labels().get(max(named, key=len))
    return _LABELLED_AS.get(name, name) if name else max(named, key=len)


def asked_kind(text: str) -> tuple[str, str | None, str | None]:
    """(kind, unit, meta_field) of a question; of its first part when it asks two things ("几家银行，放款多少")."""
    if dict(META_FIELDS)["contact"].search(text):
        return META, None, "contact"  # 联系谁，电话多少: both, though asked in two parts
    parts = [p for p in re.split(r"[，,；;？?]", text) if p.strip()]
    asking = [p for p in parts if ASK_ANY_RE.search(p)]
    return _kind_of(asking[0] if len(asking) > 1 else text)


def _counts_people(text: str, at: int) -> bool:
    """Whether the noun counted at `at` (after 多少 / 几个) is people: 调解员, 女孩 — not 人员密集场所, 学生宿舍."""
    words = _posseg().lcut(text[at : at + 14])
    if words and words[0].word == "人":
        return True  # 几个人
    m = PEOPLE_COUNTED_RE.match(text, at)
    if m is None:
        return False
    ends = {sum(len(w.word) for w in words[: i + 1]): i for i in range(len(words))}
    if m.end() - at not in ends:
        return False  # 人才驿站: 人 is no word of its own there
    after = ends[m.end() - at] + 1
    return after >= len(words) or words[after].flag[:1] != "n"


def _kind_of(text: str) -> tuple[str, str | None, str | None]:
    if (labelled := labelled_field(text)) is not None:
        return META, None, labelled
    for name, pattern in META_FIELDS:
        if pattern.search(text) and (name not in {"date", "unit"} or LETTER_WORDS_RE.search(text)):
            return META, None, name
    if ASK_DATE_RE.search(text):
        return DATE, None, None
    if ASK_PLACE_RE.search(text):
        return PLACE, None, None
    count = ASK_COUNT_RE.search(text)
    if ASK_LIST_RE.search(text) or (count and count.group(0).startswith("哪")):
        return LIST, None, None
    if count and count.group("unit") and not _starts_word(text, count.start("unit")):
        unit = count.group("unit")
        if unit == "个" and _counts_people(text, count.end()):
            return COUNT, "人", None  # 几个调解员 is answered by 36名
        return COUNT, unit, None
    if count and not count.group("unit") and _counts_people(text, count.end()):
        return COUNT, "人", None  # 多少女孩打了第一针: a number of people, not 14周岁
    for pattern, unit in ASK_UNIT_RES:
        if pattern.search(text):
            return COUNT, unit, None
    if ASK_SIZE_RE.search(text):
        return COUNT, None, None
    return WHAT, None, None


def _starts_word(text: str, at: int) -> bool:
    """Whether the measure word at `at` is the first character of a word, as jieba cuts the question
    (多少处理能力, 多少人口 — but 多少家 / 中小企业)."""
    end = 0
    for word in _posseg().tokenizer.lcut(text):
        start, end = end, end + len(word)
        if start <= at < end:
            return start == at and len(word) > 1 and word not in measure_words() and not ASK_TOKEN_RE.fullmatch(word)
    return False


def asked_tense(text: str) -> str | None:
    """PLAN for 打算/计划…, DONE for 已/…了多少, None when the question says neither (or both)."""
    plan, done = bool(ASK_PLAN_RE.search(text)), bool(ASK_DONE_RE.search(text))
    return PLAN if plan and not done else DONE if done and not plan else None


def _with_event(asked: str, terms: tuple[Term, ...]) -> tuple[Term, ...]:
    """A date question's event (什么时候开工, 哪一年建成) is what the date must be of: its verb weighs like a noun."""
    near: set[str] = set()
    for m in ASK_DATE_RE.finditer(asked):
        after = asked[m.end() : m.end() + EVENT_REACH + 4]
        before = asked[max(0, m.start() - EVENT_REACH - 4) : m.start()]
        found = {t.text for t in terms if t.text in after[: EVENT_REACH + len(t.text)]}
        near |= found or {t.text for t in terms if t.text in before[-(EVENT_REACH + len(t.text)) :]}
    # 用到什么时候 / 开到几点 ask until when: 用, 开 are no event the date is of
    return tuple(replace(t, weight=1.0) if t.text in near and t.weight < 1.0 and t.text not in role_words()
                 and t.text not in PLAN_WORDS and not t.text.endswith("到") else t for t in terms)


# 贷款里涉农的有多少, 留守儿童里面读初中的有几个: the part asked of a whole.
SUBSET_RE = re.compile(
    r"(?:里面|里头|其中|当中|之中|里)([\u4e00-\u9fff]{1,8}?)的[\u4e00-\u9fff]{0,4}?(?:有|是|占)?(?:多少|几)")


def _with_subset(asked: str, terms: tuple[Term, ...]) -> tuple[Term, ...]:
    """A count of a part (…里涉农的有多少): the words that name the part weigh like nouns, for the whole's
    figure does not answer."""
    parts = "".join(m.group(1) for m in SUBSET_RE.finditer(asked))
    return tuple(replace(t, weight=1.0) if parts and t.text in parts and t.weight == 0.5
                 and not t.text.endswith(tuple("在到了着过给")) else t for t in terms)  # 放在 is no part


def is_follow_up(text: str, terms: Sequence[Term]) -> bool:
    """An elliptical question that leans on the previous one ("那中试平台呢？", "规模多大？")."""
    bare = PUNCT_RE.sub("", text)
    return (bool(FOLLOW_UP_RE.search(text)) or len(bare) <= 6 or not any(t.strong for t in terms)
            or bool(PART_OF_RE.match(bare)))


def user_questions(history: Sequence[object] | None) -> list[str]:
    """The questions the user asked, in order, from Gradio messages dicts, (user, bot) pairs or plain strings."""
    asked = []
    for item in list(history or []):
        if isinstance(item, str):
            asked.append(item)
        elif isinstance(item, dict) and item.get("role") == "user":
            asked.append(str(item.get("content", "")))
        elif isinstance(item, list | tuple) and item and isinstance(item[0], str):
            asked.append(item[0])
    return [q for q in asked if q.strip()]


ANSWERED_VALUE_RE = re.compile(rf"^\*\*{NUMBER}\s*(?:[万亿])?\s*(?P<unit>{UNITS})")


def answered_unit(history: Sequence[object] | None) -> str | None:
    """The measure word of the short answer last given ("**3000元**"): "那改造提升的呢？" asks for the same."""
    for item in reversed(list(history or [])):
        if isinstance(item, dict) and item.get("role") == "assistant":
            found = ANSWERED_VALUE_RE.match(str(item.get("content", "")))
            return found["unit"] if found else None
    return None


def previous_question(history: Sequence[object] | None) -> str | None:
    """The last question the user asked."""
    asked = user_questions(history)
    return asked[-1] if asked else None


def analyse(text: str, history: Sequence[object] | None = None, names: Sequence[str] = (),
            references: Sequence[str] = ()) -> Question:
    """Read a question (and, for a follow-up, the question before it); `names` and `references`: what it names
    letters by (see content_terms)."""
    asked = normalize(text)
    # What the question asks, and its years, without the references that only say which letter is meant:
    # "温州市卫健委答复264号建议是哪天" asks the letter's date, "平发改建〔2020〕774号里2025年…" no 2020.
    unreferenced = DOC_REF_RE.sub(" ", _without(asked, references))
    kind, unit, meta_field = asked_kind(unreferenced)
    if kind != META and not LETTER_WORDS_RE.search(unreferenced) and (whole := asked_kind(asked))[0] == META:
        kind, unit, meta_field = whole  # 91号答复函是哪个单位发的: the reference held the word 答复函
    terms = content_terms(asked, names, references)
    years = tuple(dict.fromkeys(YEAR_RE.findall(unreferenced)))
    earlier = user_questions(history)[-FOLLOW_UP_DEPTH:]
    previous = earlier[-1] if earlier else None
    follow_up = previous is not None and is_follow_up(asked, [t for t in terms if t.text not in names])
    context_terms: tuple[Term, ...] = ()
    search_text = asked
    if follow_up and previous is not None:
        before = analyse(previous, earlier[:-1])  # itself read with the questions before it ("那…呢" chains)
        context_terms = tuple(t for t in before.terms if t.text not in {x.text for x in terms})
        if kind == WHAT and before.kind != WHAT and not ASK_WHAT_RE.search(asked):
            kind, unit, meta_field = before.kind, before.unit or answered_unit(history), before.meta_field
            if any(units_answering(t.text) for t in terms):
                unit = None  # 入住率呢？ after 租金多少: the attribute says what answers it
        elif kind == COUNT and unit == "个" and before.unit in unit_group("人"):
            unit = before.unit  # 专职的有几个？ after 救援队有多少人: people still
        years = years or before.years
        search_text = f"{before.search_text} {asked}"
    per_one = [f"每{m.group(1)}" for m in PER_ONE_RE.finditer(asked)]  # 一台多少钱: the price of each
    qualifiers = tuple(dict.fromkeys([*QUALIFIER_RE.findall(asked), *PART_RE.findall(asked), *per_one]))
    if kind == DATE:
        terms = _with_event(asked, terms)
    if kind == COUNT:
        terms = _with_subset(asked, terms)
    tense = asked_tense(asked)
    if tense is None and follow_up:
        tense = before.tense
    return Question(
        text=asked,
        search_text=search_text,
        kind=kind,
        unit=unit,
        meta_field=meta_field,
        terms=terms,
        context_terms=context_terms,
        years=years,
        relative_year=None if years else next((o for o, rx in RELATIVE_YEAR_RES if rx.search(asked)), None),
        qualifiers=qualifiers,
        tense=tense,
        is_follow_up=follow_up,
        previous=previous if follow_up else None,
        names=tuple(names),
        counted=counted_noun(asked, terms) if kind == COUNT else None,
    )


def counted_noun(asked: str, terms: Sequence[Term]) -> str | None:
    """The strong term right after 多少/几 and its measure word (多少个行政村, 几座水库): what is counted."""
    for m in ASK_COUNT_RE.finditer(asked):
        if m.group("unit") in unit_group("人"):
            continue  # 多少人饮水: the people are counted, 饮水 is what they do
        rest = asked[m.end() : m.end() + 8]
        rest = re.sub(f"^(?:{PART_RE.pattern})", "", rest)  # 几个省级特色村寨: the 村寨 are counted
        for term in terms:
            if term.strong and rest.startswith(term.text) and not units_answering(term.text):
                return term.text  # not an attribute (多少比例的行政村 counts nothing)
        if m.group("unit") == "个" and not re.match(r"[\u4e00-\u9fff]", rest):  # 民警有多少个？: counted before
            before = re.sub(r"(?:一共|总共|共|现在|目前|有|是)+$", "", asked[: m.start()])
            for term in terms:
                if term.strong and before.endswith(term.text) and not units_answering(term.text):
                    return term.text
    return None
