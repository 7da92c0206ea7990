"""Evidence inside a passage: the sentence window that answers a question, and the value it holds.

A window is one sentence, or two adjacent ones when the question's terms straddle them. It is scored
by how much of the question it covers (weighted terms and their synonyms), whether it holds a value of
the kind asked (a number with the asked measure word, a date), and whether the question's years and
qualifiers (每家, 最高 …) are echoed. Retrieval reranks by it; the answer quotes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from .chunking import ITEM_RE
from .lexicon import attribute_units, synonym_map, unit_group
from .query import (
    ASK_ORG_RE,
    COUNT,
    DATE,
    LIST,
    META,
    NUMBER,
    ORG_RE,
    PART_RE,
    PERCENT,
    PLACE,
    PLACE_RE,
    PLAN,
    PUNCT_RE,
    UNITS,
    WHAT,
    Question,
    Term,
    compact,
    is_word,
    names_unit,
    place_words,
    units_answering,
)
from .tables import Cell, caption, column_value, header_cells, row_cells

QUICK_SENTENCE_RE = re.compile(r"[。！？!?；;]")
# A half-width period between Chinese characters ends a sentence too (web copies: "…11个百分点.杨村乡是…").
SENTENCE_RE = re.compile(
    r"(?:[^。！？!?.\n]|\.(?![\u4e00-\u9fff])|(?<![\u4e00-\u9fff])\.)+(?:[。！？!?]|\.(?=[\u4e00-\u9fff]))?")
LONG_SENTENCE = 140  # characters; longer sentences are also cut at ；
# A sentence opening with these goes on with the subject of the sentence before it.
CONTINUES_RE = re.compile(
    r"累计|共计|其中|并|同时|另有|还|此外|目前已|已累计|该|上述|此举|(?:项目|工程)?(?:建成|完工|投用|实施)后")
ITEM_LEAD_MAX = 40  # an item's first sentence this short is a heading for the rest of the item
# Qualifiers said another way: 最多补多少 is answered by 最高5万元, 最少 by 不低于.
QUALIFIER_FORMS = {"最多": ("最高", "不超过", "上限", "封顶", "至多"), "最高": ("最多", "不超过", "上限", "封顶"),
                   "最少": ("最低", "不低于", "至少", "不少于"), "最低": ("最少", "不低于", "至少", "不少于")}
RELATIVE_YEARS = {0: ("今年", "本年", "当年", "年内"), -1: ("去年", "上年", "上一年"), 1: ("明年", "下一年")}
FRACTION = r"[\d一二三四五六七八九十百]+分之[\d一二三四五六七八九十百]+"  # 三分之二: a share, like a percentage
VALUE_RE = re.compile(
    rf"(?P<pre>(?<!不)超过|(?<!不)超|近|约|达到|达|逾|突破|第)?\s*"
    rf"(?P<num>{FRACTION}|\d+(?:\.\d+)?\s*[:：]\s*\d+(?:\.\d+)?|{NUMBER}(?:\s*[+＋]\s*\d+)*)\s*(?:余|多)?\s*"
    rf"(?P<mag>万|亿)?\s*(?:余|多)?\s*"
    rf"(?P<unit>{UNITS})?(?P<post>以上|以内|以下|左右|上下|多|余)?"
)
# 18时, 7时30分, 8点半, 晚上11点 (a bare 3点 is no time: 3点建议)
CLOCK = (r"(?:\d{1,2}\s*(?:时(?:\s*\d{1,2}\s*分)?|点(?:\s*\d{1,2}\s*分|半)(?!\d))"
         r"|(?:早上|晚上|上午|下午|中午|凌晨|夜间|早|晚)\s*\d{1,2}\s*点)")
DATE_RE = re.compile(
    r"(?:\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日|底|初|中旬|上旬|下旬)?|\d{4}\s*年(?:底|初|上半年|下半年|度)?"
    r"|(?<![\d年])\d{1,2}\s*月(?:\s*\d{1,2}\s*日|底|初|中旬|上旬|下旬|份)"
    r"|(?:今年|明年|去年|年内|当年)\s*\d{1,2}\s*月"
    r"|(?<!\d)(?:19|20)\d{2}[-./]\d{1,2}[-./]\d{1,2}(?!\d)"  # 2024-01-25
    r"|(?:早|晚|上午|下午|晚上|早上)?\d{1,2}[:：]\d{2}(?:\s*[至到-]\s*\d{1,2}[:：]\d{2})?"  # 早7:10至7:50
    rf"|{CLOCK}(?:\s*[至到-]\s*(?:次日|第二天)?\s*{CLOCK})?)"  # 18时至次日7时30分
    r"(?:前|以前|之前|左右|后|以后)?"
)
CLAUSE_BREAK_RE = re.compile(r"[，；,;]")
# A figure or a dated month ends the statement before it: in "…龙湾区安排资金37.17亿元，…瑞安市安排资金7.16亿元"
# the words before 37.17亿元 speak of it, not of 7.16亿元.
FIGURE_RE = re.compile(rf"\d{{4}}\s*年\s*\d{{1,2}}\s*月|\d+(?:\.\d+)?\s*(?:万|亿)?\s*(?:%|{UNITS})")
# A passage speaking of a plan, not of a result (its heading is "（二）下一步工作计划").
PLAN_TEXT_RE = re.compile(r"计划|预计|力争|拟|打算|争取|下一步|下步|目标")
# The formulas of a reply (thanks, 收悉, 现答复如下, contact lines) speak of the letter, not of what was done.
FORMULA_RE = re.compile(
    r"感谢.{0,20}(?:关心|支持|关注)|收悉|答复如下|此复|特此函复|联系人|联系电话|希望.{0,10}(?:继续|多提)"
)
FORMULA_PENALTY = 0.4
MISSING_PENALTY = 0.25  # per strong term of the question that a window and its heading lack
UNBOUND_PENALTY = 0.15  # per strong term in the window, but not in the statement of the figure
TENSE_PENALTY = 0.2  # a plan quoted for a result asked, or the other way round
YEAR_ONLY_RE = re.compile(r"\d{4}\s*年")
CHANGE_RE = re.compile(r"降低|下降|减少|提高|提升|增长|增加|上升|缩短|压缩|节约|增幅|降幅|涨幅|增速")  # 成本降低了多少
# The period a rate is per (每月 1800元 is not 每年 1800元): what the question asks, what the clause says.
PERIODS = (("月", re.compile(r"每月|每个月|一个月|月均|按月")), ("年", re.compile(r"每年|一年|年均|按年|全年")))
# A table's total row (合计｜44｜129.1) answers a question about the whole (一共安排了多少个).
TOTAL_ROW_RE = re.compile(r"(?:全省|全市|全县|全区|全国)?(?:合计|总计|共计|小计|总数|总体)|全省|全市|全县|全区|全国")
TOTAL_ASKED_RE = re.compile(r"一共|总共|合计|总计|共计|总数|全部|全省|全市|全县|全区|全国|整体|总体")
ENUMERATION_RE = re.compile(r"[\u4e00-\u9fff]{1,12}(?:、[\u4e00-\u9fff]{1,12})+")
COUNTED_AFTER_RE = re.compile(r"等?[\u4e00-\u9fff]{0,4}")  # 舌诊仪、脉诊仪|等设备|3200余台: the list's own count
NOT_MEASURE = {"部": ("门",), "家": ("庭", "长", "属"), "名": ("单", "额", "称"), "个": ("人",), "处": ("室",)}
STATED_YEAR_RE = re.compile(r"(?<![\d.])((?:19|20)\d{2})(?=\s*(?:年|[—\-至～~]\s*(?:19|20)\d{2}))")  # not 1900余人次
# Which units a reply was worked out with: "经商…", "会同…认真研究", "由…协办".
PARTNERS_ASKED_RE = re.compile(
    r"(?:会同|商了|商量|经商|会商|协办|一起办|联合|配合|征求)[^，,。？?]{0,6}(?:哪些|哪几个|哪个|什么)(?:单位|部门|机构)"
    r"|(?:协办|会办)单位")
PARTNERS_RE = re.compile(r"会同|经商|商请|会商|协办|会办|征求[^，,。]{0,20}意见|联合[^，,。]{0,20}(?:研究|办理)")
WHY_RE = re.compile(r"为什么|为啥|为何|什么原因|啥原因|怎么不|咋不|原因")
CAUSE_RE = re.compile(r"因为|由于|因|受.{1,12}(?:限制|影响)|尚未|尚不|不具备|难以|暂不|无法|不足|制约|原因")
ANSWERED_BY_RE = re.compile(r"(?:怎么|如何|是怎样|怎样)(?:答复|回复|回应)|答复了?什么|回复了?什么")
DONE_ASKED_RE = re.compile(r"已经|目前已|现在已|已有")
PLANNED_RE = re.compile(r"计划|拟|力争|预计|将于|争取|打算")
RANK_ASKED_RE = re.compile(r"第几|排名|排第|位次|名次|排在")
NEW_ASKED_RE = re.compile(r"新增|新建|新认定|新设|新开|新招|新发展|新培育|新购|新买|新装|新注册|新吸纳")
COMPARED_RE = re.compile(
    r"比(?:上年|去年|上一年|前一年)|同比|较(?:上年|去年)|(?:增长|增加|下降|减少|提高|降低)了?(?:多少|几)")
RESULT_WORDS = ("为", "到", "至", "达", "突破", "超")


@dataclass(frozen=True)
class Window:
    """The best stretch of a passage for a question. start/end index into the passage text."""

    start: int
    end: int
    text: str
    coverage: float  # weighted share of the question's terms found (0..1)
    missing: tuple[str, ...]  # strong terms found neither in the window nor in the passage's heading
    years_ok: bool
    qualifiers_ok: bool
    value: str | None  # the short answer for COUNT / DATE questions, as written (spaces removed)
    value_start: int  # span of the value inside the passage text, -1 when there is none
    value_end: int
    score: float
    uncounted: bool = False  # the figure's own statement does not name what the question counts


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of `text`, trimmed; long ones also cut at ；."""
    spans: list[tuple[int, int]] = []
    for match in SENTENCE_RE.finditer(text):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end - start < 2:
            continue
        if end - start > LONG_SENTENCE:
            spans.extend(_cut_at_semicolons(text, start, end))
        else:
            spans.append((start, end))
    return spans


def _cut_at_semicolons(text: str, start: int, end: int) -> list[tuple[int, int]]:
    pieces, cursor = [], start
    for m in re.finditer(r"[；;]", text[start:end]):
        pieces.append((cursor, start + m.end()))
        cursor = start + m.end()
    if cursor < end:
        pieces.append((cursor, end))
    return pieces


def term_found(term: Term, haystack: str) -> float:
    """1 when the term or a synonym is in `haystack` (compact), 0.5 for a long term mostly there."""
    if not haystack:
        return 0.0
    return _found(term.text, term.variants, haystack)


@lru_cache(maxsize=1 << 16)
def _found(text: str, variants: tuple[str, ...], haystack: str) -> float:
    """term_found of the term `text` with these variants: windows overlap, so each pair is asked often."""
    bare = _without_punctuation(haystack)  # 县市区 is in 各县（市、区）
    if any(variant in haystack or variant in bare for variant in variants):
        return 1.0
    if text.endswith("额") and text[:-1] + "金额" in haystack:
        return 1.0  # 交易额 is 交易金额
    if len(text) >= 2 and _abbreviates(text, bare):
        return 0.75  # 个体户 in 个体工商户, 县市区 in 各县（市、区）, 法援 in 法律援助
    if len(text) >= 4:
        halves = (text[: len(text) // 2], text[len(text) // 2 :])
        if all(h in haystack for h in halves):
            return 0.5
    return 0.0


@lru_cache(maxsize=4096)
def _compact(text: str) -> str:
    """compact() of section headings, which recur across the passages and questions of a session."""
    return compact(text)


# Every window is tested against every term of a question: these two are computed once each.
@lru_cache(maxsize=8192)
def _without_punctuation(text: str) -> str:
    return PUNCT_RE.sub("", text)


@lru_cache(maxsize=1024)
def _abbreviation_re(term: str) -> re.Pattern[str]:
    return re.compile("".join(f"{re.escape(c)}[^{re.escape(c)}]{{0,3}}?" for c in term[:-1]) + re.escape(term[-1]))


def _abbreviates(term: str, haystack: str) -> bool:
    """Whether the term's characters stand in order within a short stretch of the haystack."""
    return any(len(m.group(0)) <= 2 * len(term) for m in _abbreviation_re(term).finditer(haystack))


def coverage(terms: tuple[Term, ...], haystack: str, heading: str = "") -> float:
    """Weighted share of `terms` found in `haystack`; a term only in the heading counts 3/4."""
    return _weighted(terms, [term_found(t, haystack) for t in terms], [term_found(t, heading) for t in terms])


def _weighted(terms: tuple[Term, ...], found: list[float], in_heading: list[float]) -> float:
    total = sum(t.mass for t in terms)
    if total == 0:
        return 1.0
    return sum(t.mass * max(f, 0.75 * h) for t, f, h in zip(terms, found, in_heading, strict=True)) / total


def sentence_match(question: Question, text: str, heading: str = "", identity: str = "") -> float:
    """A cheap upper view of best_window's coverage: the weighted share of the question's terms (and its
    years) found in the best single sentence of `text` or in its heading, by plain substring tests. It
    picks which of many candidates deserve the full rerank. Both texts must be NFKC already (a chunk's
    search_text is): this runs on every candidate of every question. `identity` (chatbot.names.identity_text)
    counts like the heading: "泰顺" is satisfied by every passage of the 泰顺县 letter."""
    total = sum(t.mass for t in question.terms) + len(question.years)
    if total == 0:
        return 1.0
    body, head = "".join(text.split()), "".join(heading.split()) + "|" + identity
    in_head = 0.0
    present: list[Term] = []  # terms in the text but not the heading: only these differ by sentence
    for term in question.terms:
        if any(v in head for v in term.variants):
            in_head += term.mass
        elif any(v in body for v in term.variants):
            present.append(term)
    years = [y for y in question.years if y in body]
    if not present and not years:
        return in_head / total
    best = max(
        sum(t.mass for t in present if any(v in sentence for v in t.variants)) + sum(y in sentence for y in years)
        for sentence in QUICK_SENTENCE_RE.split(body)
    )
    return (in_head + best) / total


def best_window(question: Question, text: str, heading: str = "", identity: str = "",
                year: int | None = None) -> Window:
    """The window of `text` that best answers `question` (`heading`: the passage's section path; `identity`:
    the names of its letter, chatbot.names.identity_text, which satisfy a question's terms like a heading;
    `year`: the year the letter was written, which its 今年 / 去年 speak of)."""
    headings = {_compact(part) for part in heading.split(" › ") if part}
    # A heading line alone (四、关于“…”的建议) says what a section is about, not what was done.
    bodies = {(a, b): compact(text[a:b]) for a, b in sentence_spans(text)}
    spans = [span for span, body in bodies.items() if body.rstrip("。") not in headings]
    if not spans:
        spans = [(0, len(text))]
        bodies[spans[0]] = compact(text)
    candidates = list(spans)
    if question.kind not in (COUNT, DATE):
        # A figure must stand in the sentence that speaks of the question's terms, so only
        # questions answered by a statement may join two sentences.
        for a, b in pairwise(spans):
            candidates.append((a[0], b[1]))
            bodies[candidates[-1]] = bodies[a] + bodies[b]
    head = _compact(heading)
    # The same for every window: a term the heading or the letter's identity holds.
    in_heading = [max(term_found(t, head), term_found(t, identity)) for t in question.terms]
    leads = _item_leads(text, spans, bodies)
    best: Window | None = None
    for start, end in candidates:
        lead = leads.get(start)
        found = in_heading if not lead else [max(h, term_found(t, lead)) for t, h in
                                             zip(question.terms, in_heading, strict=True)]
        body = bodies[start, end]
        if lead and row_cells(text, start, end):
            body += "|" + lead  # a table row says what its caption says ("2023年度全省…项目安排情况")
        window = _score_window(question, text, (start, end), body, head + "|" + (lead or ""), found,
                               two=(start, end) not in spans, identity=identity, year=year)
        if best is None or window.score > best.score:
            best = window
    assert best is not None  # candidates is never empty
    return best


def _relative_year(asked: int, written: int | None, body: str) -> bool:
    """Whether `body` speaks of the year asked by a word relative to the letter's own year (去年, 今年 …)."""
    if written is None:
        return False
    return any(word in body for word in RELATIVE_YEARS.get(asked - written, ()))


def _item_leads(text: str, spans: list[tuple[int, int]], bodies: dict[tuple[int, int], str]) -> dict[int, str]:
    """For each sentence inside an item (一是…, 1.…, （1）…), the item's first sentence when it is short: it
    names what the sentences after it speak of ("一是实施城乡供水一体化延伸工程。2023年投资2860万元…");
    for a table row, the caption above its header ("2023年各市新建…情况如下：")."""
    starts = [m.start() for m in ITEM_RE.finditer(text)]
    leads: dict[int, str] = {start: compact(c) for start, _ in spans if row_cells(text, start, _)
                             and (c := caption(text, start))}
    for before, span in pairwise(spans):  # 累计投资温州地区项目46个 goes on with the sentence before it
        if CONTINUES_RE.match(text, span[0]) and len(bodies[before]) <= LONG_SENTENCE:
            # …and with what that one went on from ("沙田渔港…。目前已完成…。项目建成后，可满足约500艘…")
            leads[span[0]] = (bodies[before] + leads.get(before[0], ""))[: 2 * LONG_SENTENCE]
    for i, item in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        inside = [span for span in spans if item <= span[0] < end]
        if len(inside) < 2 or len(bodies[inside[0]]) > ITEM_LEAD_MAX:
            continue
        for span in inside[1:]:
            leads[span[0]] = bodies[inside[0]]
    return leads


def _score_window(question: Question, text: str, span: tuple[int, int], body: str, head: str,
                  in_heading: list[float], two: bool, identity: str = "", year: int | None = None) -> Window:
    """Score text[span] (`body`: its compact form) for `question`."""
    terms = question.terms
    start, end = span
    cells = row_cells(text, start, end)
    header = header_cells(text, start, len(cells)) if cells else []
    if header:  # a table row is read with its column headers, and a figure is the cell of the asked column
        names = compact("".join(header))
        in_heading = [max(h, term_found(t, names)) for t, h in zip(terms, in_heading, strict=True)]
        value, v_start, v_end, closeness = _cell_value(question, cells, header)
    else:
        value, v_start, v_end, closeness = find_value(question, text, start, end, year)
    body += _attribute_words(question, text[start:end])
    found = [term_found(t, body) for t in terms]
    cov = _weighted(terms, found, in_heading)
    context = coverage(question.context_terms, body, identity) if question.context_terms else 1.0
    missing = tuple(m for m in _lacking(terms, found, in_heading)
                    if not miscut(m, question.text, body) and not _split_across(m, body, identity))
    years_ok = all(y in body or y in head or _relative_year(int(y), year, body) for y in question.years)
    qualifiers_ok = all(qualifier_found(q, question.text, body) for q in question.qualifiers)
    several = len(re.findall(r"[、；;]", text[start:end])) >= 2
    if question.kind == PLACE and not _names_place(question, text[start:end]) and not (
            several and re.search(r"哪些(?:地方|场所|地点|位置)", question.text)):
        missing += ("地点",)  # 配在哪些地方 is answered by 火车站、汽车客运站、地铁站… too
    if ANSWERED_BY_RE.search(question.text):  # 市财政局对这条建议怎么答复的: a unit that did not reply
        missing += tuple(t.text for t in terms if t.strong and names_unit(t.text, question.text)
                         and not term_found(t, identity) and t.text not in missing)
    if ASK_ORG_RE.search(question.text) and not ORG_RE.search(text, start, end):
        missing += ("单位名称",)  # 哪家公司中标: a window naming no organisation does not answer
    wants_value = question.kind in (COUNT, DATE)
    enumerates = question.kind == LIST and len(re.findall(r"[、；;]", text[start:end])) >= 2
    partners = bool(PARTNERS_ASKED_RE.search(question.text)) and bool(PARTNERS_RE.search(body))
    formula = question.kind != META and bool(FORMULA_RE.search(body)) and not partners  # 感谢…关心 answers nothing
    statement, ranked, uncounted = (start, end), cov, False
    if wants_value and value and not header:
        # The question's terms must speak of the figure: a term named after its clause belongs to the next
        # statement ("…龙湾区…37.17亿元，…瑞安市…7.16亿元" gives no figure of 瑞安市's), and a statement
        # opening with a year or a place of its own is a fact of its own. Otherwise it continues the
        # sentence's subject ("市科创基金…投资项目94个，投资金额17.44亿元").
        statement = _statement(text, start, end, v_start, v_end)
        own = statement[0] > start and _own_fact(text, statement[0], v_start)
        bound_start = statement[0] if own else start
        bound = text[bound_start : statement[1]]
        bound_text = compact(bound)
        bound_found = [term_found(t, bound_text) for t in terms]
        unbound = _lacking(terms, bound_found, in_heading)
        # A place the window names apart from the figure: "新建…10家，重点在白沙镇、石湾镇" gives no 白沙镇 figure
        # 杨村乡 asked, "全县…46.8万头…杨村乡是…": a place with its suffix named only after the figure
        suffixed = {t for t in unbound if question.kind == COUNT and t not in compact(text[start:v_start])
                    and re.search(f"{re.escape(t)}[乡镇村县区市省](?![政级场委民直属])", question.text)}
        missing += tuple(t for t in unbound if (PLACE_RE.fullmatch(t) or t in suffixed) and t not in missing)
        # 茶溪乡 asked, "…6842名，主要集中在白沙镇、龙塘乡、茶溪乡": a place listed with others apart from the figure
        listed = {w for m in ENUMERATION_RE.finditer(text, start, end) for w in m.group(0).split("、")}
        places = place_words(question.text) | {t for t in unbound if re.search(f"{t}[乡镇村县区市省]", question.text)}
        missing += tuple(t for t in unbound if t in places and t not in missing and any(t in w for w in listed))
        bare = ENUMERATION_RE.sub("", compact(text[start:end]))  # 东陵 of "东陵省…位于东陵机场、…": not only an item
        # 全市 asked, "…山区县急救平均反应时间缩短至15.6分钟": a figure of a narrower place
        whole = re.search(r"全(?:市|县|省|区|国)(?!排|第|范围|各)", question.text)
        if whole and whole.group() not in compact(text[max(start, bound_start - 15) : v_start]) and any(
                p.group() not in identity and not bound_text.startswith(tuple("村镇乡级域城区县市里"), p.end())
                for p in PLACE_RE.finditer(bound_text)):
            missing += (whole.group(),)
        # 舌诊仪 asked, "配备舌诊仪、脉诊仪等设备3200余台": the figure counts the list, not the one item
        missing += tuple(t for t in _one_of_many(question, text, bound_start, v_start)
                         if t not in missing and not term_found(next(x for x in terms if x.text == t), bare))
        uncounted = any(t.text == question.counted and not f and not h
                        for t, f, h in zip(terms, bound_found, in_heading, strict=True))
        ranked = (cov + _weighted(terms, bound_found, in_heading)) / 2 - UNBOUND_PENALTY * len(unbound)
        # 二期 / 下半年 asked: a figure of another part or period does not answer ("上半年…540人次，下半年将…")
        qualifiers_ok = qualifiers_ok and (question.kind != COUNT or all(
            qualifier_found(q, question.text, bound_text) or q in head for q in question.qualifiers
            if PART_RE.fullmatch(q)))
    score = (
        ranked
        - MISSING_PENALTY * len(missing)
        - (TENSE_PENALTY if _tense_differs(question, text[statement[0] : statement[1]], head) else 0.0)
        + (0.1 if enumerates else 0.0)  # a 哪些 question is answered by a list
        + (0.15 if WHY_RE.search(question.text) and CAUSE_RE.search(text, start, end) else 0.0)  # 为啥: 因…
        + (0.3 if partners else 0.0)  # 会同了哪些部门: "经商农业农村部、市场监管总局，现答复如下"
        + 0.15 * context
        - (FORMULA_PENALTY if formula else 0.0)
        + (0.15 + 0.2 * min(closeness, 3.0) / 3.0 if wants_value and value else 0.0)
        + (0.0 if years_ok else -0.6)  # 2023年度 and 2024年计划 are different facts
        - (0.08 if two else 0.0)  # one sentence is a better quote than two, coverage being equal
    )
    return Window(start, end, text[start:end], cov, missing, years_ok, qualifiers_ok, value, v_start, v_end, score,
                  uncounted)


def _one_of_many(question: Question, text: str, begin: int, v_start: int) -> tuple[str, ...]:
    """The question's terms that name one item of a bare enumeration (甲、乙、丙等) right before the figure,
    the question naming no other item nor asking for the whole: the figure counts the items together
    ("配备舌诊仪、脉诊仪等设备3200余台" gives no 舌诊仪 figure)."""
    if TOTAL_ASKED_RE.search(question.text) or "等" in question.text:
        return ()
    named: list[str] = []
    summed = bool(re.search(r"(?:共|合计|总计|共计)[\u4e00-\u9fff]{0,6}$", text[max(begin, v_start - 8) : v_start]))
    for m in ENUMERATION_RE.finditer(text, begin, v_start):
        after_figure = re.match(r"[\d.％%]", text[m.start() - 1 : m.start()])
        if after_figure or not (summed or COUNTED_AFTER_RE.fullmatch(text, m.end(), v_start)):
            continue  # not what the figure counts (a list of figures: 护栏3.8公里、错车道16处); "…共验放" sums
        items = re.split(r"、|和|及|与", m.group(0))
        closed = text.startswith("等", m.end())  # 舌诊仪、脉诊仪等设备: the noun counted stands after the list
        for term in question.terms:
            hits = [i for i, item in enumerate(items) if any(v in item for v in term.variants)]
            if not term.strong or len(hits) != 1 or (hits[0] == len(items) - 1 and not (closed or summed)):
                continue  # the last item holds the shared noun (新建、改造学生宿舍12.4万平方米)
            others = "|".join(item for i, item in enumerate(items) if i != hits[0])
            if not any(any(v in others for v in t.variants) for t in (*question.terms, *question.context_terms)
                       if t is not term):
                named.append(term.text)
    return tuple(named)


def _names_place(question: Question, window: str) -> bool:
    """Whether a window names a place other than those the question names (在平潭、霞浦建成…)."""
    if any(not window.startswith(tuple("村镇乡级域城区县市里"), m.end()) for m in PLACE_RE.finditer(window)):
        return True  # 白沙镇 is a place; 用于乡村, 乡镇卫生院 are not
    asked = {v for t in (*question.terms, *question.context_terms) for v in t.variants}
    return any(not any(word in v for v in asked) for word in place_words(window))


def qualifier_found(qualifier: str, asked: str, body: str) -> bool:
    """Whether `body` (compact) says what the qualifier asks: 每个学生 is 每生, 每户 is 户均, 平均 is 人均 …"""
    if qualifier in body or any(form in body for form in synonym_map().get(qualifier, ())):
        return True  # 一期 is 首期
    if qualifier.startswith("每"):
        measure = qualifier[1:]
        after = asked[asked.find(qualifier) + len(qualifier) :][:2]  # 每个学生 → 学生: 每生
        forms = {"每" + m for m in unit_group(measure)} | {measure + "均", "/" + measure} | {"每" + c for c in after}
        return any(form in body for form in forms)
    if qualifier in ("平均", "人均", "户均", "亩均"):
        return "均" in body
    return any(form in body for form in QUALIFIER_FORMS.get(qualifier, ()))


def _lacking(terms: tuple[Term, ...], found: list[float], in_heading: list[float]) -> tuple[str, ...]:
    """The strong terms found neither in the text (`found`) nor in the heading."""
    return tuple(t.text for t, f, h in zip(terms, found, in_heading, strict=True) if t.strong and not f and not h)


def miscut(term: str, asked: str, body: str) -> bool:
    """Whether a term is jieba's miscut of the question: the passage says a stretch of the question across the
    term's edge, or (a two-character term) its first character ends a word the passage says (公积金中心想让 →
    心想; 中心 is the word) or its last character starts one (巾帼贷放了 → 贷放)."""
    at = asked.find(term)
    if at < 0:
        return False
    # 买防/贫保花 of "买防贫保花多少钱": a stretch of the question across the term's edge that the passage says
    # (防贫保, ≥ 3 characters, 2 of them the term's) shows the cut was jieba's, not a word missing.
    for size in range(3, 7):
        for start in range(max(0, at + 2 - size), min(at + len(term) - 2, len(asked) - size) + 1):
            if not (start >= at and start + size <= at + len(term)) and asked[start : start + size] in body:
                return True
    if len(term) != 2:
        return False
    before, after = asked[at - 1 : at + 1] if at else "", asked[at + 1 : at + 3]
    return any(len(pair) == 2 and pair in body and is_word(pair) for pair in (before, after))


def _split_across(term: str, body: str, identity: str) -> bool:
    """Whether a four-character term is said half by the letter's identity, half by the passage (供销系统: 供销
    in 柳河市供销合作社联合社, 系统 in "2019年系统实现农产品销售额…")."""
    halves = (term[:2], term[2:])
    return len(term) == 4 and all(h in body or h in identity for h in halves) and any(h in body for h in halves)


def _statement(text: str, start: int, end: int, v_start: int, v_end: int) -> tuple[int, int]:
    """The statement a value belongs to: from the end of the figure before it (or the window's start) to
    the end of the value's clause. Its words say whether the figure is a plan or a result."""
    begin = start
    for m in FIGURE_RE.finditer(text, start, v_start):
        if not YEAR_ONLY_RE.fullmatch(m.group(0)):
            begin = m.end()
    for m in re.finditer("其中", text[begin:v_start]):  # "南岭、西川两市，其中南岭市…21.3万亩": 南岭's alone
        if PLACE_RE.match(text, begin + m.end(), v_start):
            begin += m.start()
            break
    brk = CLAUSE_BREAK_RE.search(text, v_end, end)
    return begin, brk.start() if brk else end


def _own_fact(text: str, begin: int, v_start: int) -> bool:
    """Whether the statement text[begin:v_start] names its own year, or opens with its own place."""
    if YEAR_ONLY_RE.search(text, begin, v_start):
        return True
    while begin < v_start and text[begin] in "，；,; ":
        begin += 1
    if text.startswith("其中", begin):
        begin += 2
    return bool(PLACE_RE.match(text, begin, v_start))


def _tense_differs(question: Question, statement: str, head: str) -> bool:
    """A plan answering a question about results, or a result answering a question about plans."""
    if question.tense is None:
        return False
    planned = bool(PLAN_TEXT_RE.search(statement) or PLAN_TEXT_RE.search(head))
    return planned != (question.tense == PLAN)


def _cell_value(question: Question, cells: list[Cell], header: list[str]) -> tuple[str | None, int, int, float]:
    """For a COUNT or DATE question, the cell of the column the question asks about (chatbot.tables)."""
    if question.kind not in (COUNT, DATE):
        return None, -1, -1, 0.0
    label = next((c.text for c in cells if re.search(r"[\u4e00-\u9fff]", c.text)), "")
    total = TOTAL_ROW_RE.fullmatch(compact(label)) and TOTAL_ASKED_RE.search(question.text)
    if not total and not any(t.strong and term_found(t, compact(label))
                             for t in (*question.terms, *question.context_terms)):
        return None, -1, -1, 0.0  # the 济南 row does not answer a question about the whole province
    found = column_value(question.terms, question.unit, cells, header, question.counted)
    if found is None:
        return None, -1, -1, 0.0
    value, cell, weight = found
    return value, cell.start, cell.end, weight


def _attribute_words(question: Question, window: str) -> str:
    """The attribute nouns of the question (功率, 金额) that a figure in the window answers by its unit."""
    table = attribute_units()  # only the listed nouns: a rate (覆盖率) is written where it is given
    asked = [t for t in question.terms if t.text in table]
    if not asked:
        return ""
    units = {m.group("unit") for m in VALUE_RE.finditer(window) if m.group("unit")}
    return "".join(t.text for t in asked if units & table[t.text])


def find_value(question: Question, text: str, start: int, end: int,
               year: int | None = None) -> tuple[str | None, int, int, float]:
    """The number (COUNT) or date (DATE) in text[start:end] nearest to the question's terms,
    with its span and how closely it is bound to them. `year`: the letter's, that 今年 / 去年 count from."""
    asked_year = None if year is None or question.relative_year is None else str(year + question.relative_year)
    if question.kind not in (COUNT, DATE):
        return None, -1, -1, 0.0
    best: tuple[float, str, int, int] | None = None
    pattern = DATE_RE if question.kind == DATE else VALUE_RE
    counted = next((t.variants for t in question.terms if t.text == question.counted), ())
    found = list(pattern.finditer(text, start, end))
    named = {m.span() for m in found
             if counted and any(text.startswith(v, m.end(), m.end() + len(v) + 1) for v in counted)}
    for m in found:
        if question.kind == COUNT and not _is_answer_value(m, question):
            continue
        if named and m.span() not in named and question.kind == COUNT:
            continue  # 几个城市: "在23个城市的37个口岸" — the figure the counted noun follows
        if question.years and not _dated(question.years, text, start, m.start()):
            continue
        if asked_year and not _dated((asked_year,), text, start, m.start()):
            continue  # 今年 asked of a 2022 letter: "2021年帮助1.3万户" is last year's
        closeness = _closeness(question, text, start, m.start(), m.end())
        if best is None or closeness > best[0]:
            lead = len(m.group(0)) - len(m.group(0).lstrip())
            best = (closeness, re.sub(r"\s+", "", m.group(0)), m.start() + lead, m.end())
    return (best[1], best[2], best[3], best[0]) if best else (None, -1, -1, 0.0)


def _dated(asked: tuple[str, ...], text: str, window_start: int, v_start: int) -> bool:
    """Whether the year nearest before a figure is one the question asks about (or there is none):
    "2025年…59.80亿元，2022年…7011万元" — each figure belongs to its own year."""
    years = STATED_YEAR_RE.findall(text, window_start, v_start)
    return not years or years[-1] in asked


def _is_answer_value(m: re.Match[str], question: Question) -> bool:
    unit, num = m.group("unit") or m.group("mag"), m.group("num")  # 500亿: the magnitude is the unit
    if "分之" in num:
        unit = "%"
        if question.unit == "人":
            return True  # 多少居民同意: 三分之二以上
    elif num == "一" and (unit != question.unit or m.string.startswith("一", m.end())):
        return False  # 一批, 一户一策: a word, not a figure
    elif not re.search(r"\d", num) and not unit:
        return False  # a bare 一 or 三 is a word, not a figure
    if unit and m.string.startswith(NOT_MEASURE.get(unit, ()), m.end()):
        return False  # 10部门, 300家庭: a word, not a measure
    if unit in {"年", "月"} and question.unit not in {"年", "月"}:
        return False  # 2024年 is a date, not the answer to 几家
    if m.group("pre") == "第":  # 排全省第几 asks a rank, whatever the ranked attribute (完成率) is measured in;
        return bool(RANK_ASKED_RE.search(question.text))  # 第二批 of the question is no answer
    if re.match(r"\s*(?:次|届)?\s*(?:会议|全会|常委会)", m.string[m.end() : m.end() + 6]) or m.string.endswith(
            "届", 0, m.start()):
        return False  # 十届三次会议: the session, not a count
    if unit == "届" and question.unit != "届":
        return False
    if not question.unit and COMPARED_RE.search(question.text):  # 比上年增长了多少: the change, not a share (占…36%)
        return bool(CHANGE_RE.search(m.string, max(0, m.start() - 6), m.start()))
    clause = _clause_before(m)
    asked, said = _period(question.text), _period(clause)
    if asked and said and asked != said:
        return False  # 一个月收多少钱 is not answered by 每人每年补助1800元
    if TOTAL_ASKED_RE.search(question.text) and re.search(r"每(?!年|月|日|天)[\u4e00-\u9fff]", clause):
        return False  # 总共准备多少钱 is not answered by 每剂补助200元
    per_unit = [q for q in question.qualifiers if q.startswith("每") and not _period(q)]
    sentence = m.string[max(m.string.rfind("。", 0, m.start()), m.string.rfind("；", 0, m.start())) + 1 : m.start()]
    rate = re.search(r"每|均|单价|标准", sentence) or re.match(r"[^，,。；;]{0,3}/", m.string[m.end() :])
    if per_unit and not rate:
        return False  # 每亩补助多少 is not answered by 补助资金43.6亿元
    cumulative = re.search(r"累计|总计|现有|共有", clause) and not NEW_ASKED_RE.search(clause)
    if NEW_ASKED_RE.search(question.text) and cumulative:
        return False  # 新认定了多少个 is not answered by 累计认定2508个
    if "累计" in question.text and not NEW_ASKED_RE.search(question.text) and NEW_ASKED_RE.search(clause) and (
            "累计" not in clause):
        return False  # 累计有多少首贷户 is not answered by 2023年新增首贷户2.3万户
    if DONE_ASKED_RE.search(question.text) and PLANNED_RE.search(sentence) and not re.search(r"已|完成", clause):
        return False  # 已经建成几个了 is not answered by 计划再新建8个
    attributes = [t.text for t in question.terms if units_answering(t.text)]
    wanted = frozenset().union(*(units_answering(a) for a in attributes))
    if wanted and not question.unit:  # 比例是多少 is answered by a percentage, not by 80项
        share = unit in PERCENT and any(re.match(f"的?{a}", m.string[m.end() : m.end() + 6]) for a in attributes)
        return unit in wanted or share or (unit in PERCENT and bool(CHANGE_RE.search(question.text)))  # 60%的补贴
    if question.unit == "倍" and re.search(r"[:：]", num):
        return True  # 按1:10放大 answers 放大多少倍
    if question.unit:
        if unit is None and "｜" in m.string[max(0, m.start() - 30) : m.start()]:
            return True  # a table cell: the unit stands in the column header
        return unit in unit_group(question.unit) or (unit or "").endswith(question.unit)
    return bool(unit or m.group("mag") or "%" in m.group(0) or re.search(r"\d", num))


def _period(text: str | None) -> str | None:
    return next((name for name, rx in PERIODS if text and rx.search(text)), None)


def _clause_before(m: re.Match[str]) -> str:
    """The clause a value ends, up to the value: what it is a rate of (每人每年补助…)."""
    start = max((b.end() for b in CLAUSE_BREAK_RE.finditer(m.string, max(0, m.start() - 20), m.start())),
                default=max(0, m.start() - 20))
    return m.string[start : m.start()]


def _closeness(question: Question, text: str, window_start: int, v_start: int, v_end: int) -> float:
    """How tightly the value is bound to the question's terms: a term right before it counts most,
    and a term the question puts next to its question word (累计有多少家) counts double."""
    score = 0.0
    for rank, term in enumerate(_terms_by_focus(question)):
        focus = 2.0 if rank == 0 else 1.0
        bound = 0.0
        for variant in term.variants:
            before = text.rfind(variant, window_start, v_start)
            if before >= 0:
                # A term across a clause break (，；) binds the figure less: 资金A…，…资金B 7011万元.
                crossed = len(CLAUSE_BREAK_RE.findall(text, before, v_start))
                bound = max(bound, focus / (1 + (v_start - before - len(variant)) / 3) / (1 + crossed))
            after = text.find(variant, v_end)
            if 0 <= after - v_end <= 12 and not CLAUSE_BREAK_RE.search(text, v_end, after):
                # 500亿规模: the term right after the figure binds it too, unless a clause ends between them
                bound = max(bound, 0.5 * focus / (1 + (after - v_end) / 3))
        score += bound
    prefix = text[max(window_start, v_start - 2) : v_start]
    if any(prefix.endswith(w) for w in RESULT_WORDS):
        score += 0.3  # 调整为100亿元: the figure after 为/到/达 is the outcome
    return score


def _terms_by_focus(question: Question) -> list[Term]:
    """The question's terms, the one nearest its question word first."""
    asked = question.text
    anchor = max((asked.find(w) for w in ("多少", "几", "多大", "哪")), default=-1)
    if anchor < 0 or question.kind == WHAT:
        return list(question.terms)

    def distance(term: Term) -> int:
        at = asked.find(term.text)
        return min(abs(anchor - (at + len(term.text))), abs(at - anchor - 2)) if at >= 0 else 999

    return sorted(question.terms, key=distance)
