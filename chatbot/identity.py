"""A letter's identity: what its letterhead, opening and closing say about it, parsed once when it is read.

Real letters differ in everything but their parts: a 文号 or none; a title on the first line(s) ("关于市十七届人大
三次会议第182号代表建议的答复函", "泰顺县水利局关于…的答复", "对《…》的答复"); a salutation naming deputies or
members ("尊敬的朱杰代表:", "郭红苹、王玉花等委员："); labelled lines (办复类别：B类, 承办责任人, 联系人 …), sometimes
the suggestion's own record above the reply; a signature with the unit and the date. The body speaks of itself
as 我县 / 我局: the place and the unit stand only here, so they are parsed here and handed on (chatbot.names
makes them the keys and the context of every passage of the letter).

Parsing reads NFKC lines, so half-width copies from web pages (`: , ( )`) read like the originals.
"""

from __future__ import annotations

import re
import unicodedata

from .chunking import cn_number, top_heading_indexes
from .lexicon import field_labels, unit_suffixes
from .schema import LetterMeta

# 文号: 温科提复〔2024〕91号, 浙政办函[2023]12号, …(2023)5号. It opens a short line near the top, or follows a
# label (文号：); a reference inside a sentence is not it.
DOC_NUMBER_RE = re.compile(
    r"(?:^|(?<=[\s:：]))[\u4e00-\u9fff]{1,12}[〔\[［(（【]\s*\d{4}\s*[〕\]］)）】]\s*第?\s*\d{1,5}\s*号"
)
SESSION_RE = re.compile(
    r"(?:(?:[省市县区州盟旗]|全国)[\u4e00-\u9fff]{0,16}?|[一二三四五六七八九十]{1,3}届[\u4e00-\u9fff]{0,8}?)"
    r"(?:人大|政协|人民代表大会)[\u4e00-\u9fff]{0,12}?会议"
)
# 817号建议 / 第182号代表建议 / 第123号提案 — and — (人大建议817号) / 提案第123号
NUMBER_AFTER_RE = re.compile(
    r"第?\s*(?P<number>\d{1,6})\s*号\s*(?:[(（][^()（）]{0,12}[)）])?\s*(?:人大代表|政协委员|代表|委员)?\s*"
    r"(?P<kind>建议|提案|议案)"
)
NUMBER_BEFORE_RE = re.compile(r"(?P<kind>建议|提案|议案)\s*第\s*(?P<number>\d{1,6})\s*号|(?P<kind2>建议|提案)"
                              r"(?P<number2>\d{1,6})\s*号")
# 《关于…的建议》（第15号）收悉: the number in brackets after the quoted title
NUMBER_TITLED_RE = re.compile(
    r"(?P<kind>建议|提案|议案)》\s*[(（][^()（）]{0,8}?第?\s*(?P<number>\d{1,6})\s*号\s*[)）]"
    r"|第\s*(?P<number2>\d{1,6})\s*号\s*《[^《》]{2,80}?(?P<kind2>建议|提案)》")  # 提出的第63号《…的提案》
TITLE_RE = re.compile(r"《(?P<title>[^《》\n]{2,120})》")
# “关于…的建议” quoted in the opening, or a line of its own above the reply ("第63号 关于…的建议").
_QUOTED_TITLE_RE = re.compile(
    r"(?:^(?:第?\s*\d+\s*号)?\s*|[“\"「])(?P<title>关于[^“”\"「」\n]{2,80}?的(?:建议|提案|议案))"
)
_YEAR = r"(?P<y>\d{4}|[〇零○Oo一二三四五六七八九]{4})"
DATE_RE = re.compile(
    _YEAR + r"\s*年\s*(?P<m>\d{1,2}|[一二三四五六七八九十]{1,2})\s*月"
    r"(?:\s*(?P<d>\d{1,2}|[一二三四五六七八九十]{1,3})\s*日)?"
)
NUMERIC_DATE_RE = re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})\s*[./-]\s*(?P<m>\d{1,2})\s*[./-]\s*(?P<d>\d{1,2})(?!\d)")
PHONE_RE = re.compile(r"\(?0\d{2,3}\)?\s*[-—]?\s*\d{7,8}|1[3-9]\d{9}|\d{3,4}-\d{7,8}(?:-\d{1,5})?|\d{5,8}")
# A line that opens with a label: 办复类别：B类 / 联系人：李贤，联系电话：88962022。
_LABEL_RE = re.compile(r"(?:^|(?<=[\s,;。、]))(?P<label>[\u4e00-\u9fff]{2,10})\s*:")
_SPACED_LABEL_RE = re.compile(r"^(?:[\u4e00-\u9fff]\s+){1,4}[\u4e00-\u9fff](?=\s*:)")  # 联 系 人: / 电　　话:
_TITLE_HINT_RE = re.compile(r"关于|对《|对第|答复|复函|办理情况|建议|提案")
_REPLY_RE = re.compile(r"答复|复函|回复|办理情况|的函|回函")
_TITLE_END_RE = re.compile(r"(?:答复函|答复|复函|的函|回复|答复意见|办理情况|情况的函|意见)$")
_LIST_SEP_RE = re.compile(r"[,、;\s]+")
_CATEGORY_MARK_RE = re.compile(r"(?:^|[(\[【])\s*(?P<category>[A-C])\s*类\s*(?:[)\]】]|$)")
_NAME_SEP_RE = re.compile(r"[、,\s]+|等")
_NOT_NAME_PARTS = ("人大", "政协", "各位", "全体", "有关", "会议", "届", "代表", "委员", "同志", "领导")
_NAME_SUFFIXES = ("政协", "人大", "同志", "先生", "女士", "老师")
_GENERIC_LABEL_END = ("代表", "委员", "同志", "如下", "意见", "情况", "建议", "目标", "措施")
HEAD_LINES = 15  # the letterhead (title, record, salutation) stands in the first lines
TAIL_LINES = 15  # the signature, contact and 抄送 in the last ones


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def compact(text: str) -> str:
    """NFKC without any whitespace: how names are compared with questions."""
    return re.sub(r"\s+", "", nfkc(text))


def iso_date(match: re.Match[str]) -> str | None:
    """ISO date of a DATE_RE / NUMERIC_DATE_RE match: 2024-06-26, or 2024-06 when the day is not written."""
    year = int("".join(c if c.isdigit() else str(cn_number(c)) for c in match["y"]))
    month = cn_number(match["m"])
    day = cn_number(match["d"]) if match["d"] else None
    if not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31) or not 1900 <= year <= 2100:
        return None
    return f"{year:04d}-{month:02d}" + (f"-{day:02d}" if day is not None else "")


# --- labelled lines --------------------------------------------------------------------------------------
def labelled_fields(line: str, *, generic: bool) -> list[tuple[str, str]]:
    """The (label, value) pairs of a line that opens with a label. Known labels (chatbot/data/field_labels.tsv)
    count anywhere; others only where `generic` (the letterhead and the closing)."""
    line = _SPACED_LABEL_RE.sub(lambda m: re.sub(r"\s+", "", m.group(0)), nfkc(line).strip())  # 联 系 人：
    if line.startswith("(") and line.endswith(")"):  # (联系人：任静，联系电话：…): the whole line in brackets
        line = line[1:-1]
    matches = list(_LABEL_RE.finditer(line))
    if matches and matches[0].start() and DOC_NUMBER_RE.fullmatch(line[: matches[0].start()].strip()):
        line = line[matches[0].start() :]  # 清机事函〔2024〕21号　　签发人：杜红梅
        matches = list(_LABEL_RE.finditer(line))
    if not matches or matches[0].start() != 0 or len(line) > 100:
        return []
    pairs = []
    for m, after in zip(matches, [*matches[1:], None], strict=True):
        label = m["label"]
        value = line[m.end() : after.start() if after else len(line)].strip(" ,;。.、")
        known = _known_label(label)
        if not value or (not known and (not generic or label.endswith(_GENERIC_LABEL_END) or len(value) > 40)):
            continue
        pairs.append((label, value))
    return pairs


def _known_label(label: str) -> str | None:
    """The field a label names: itself, or a known label it ends with (市人大代表工委联系人 → 联系人)."""
    table = field_labels()
    if label in table:
        return table[label]
    if label.startswith("联系人") and "电话" in label:
        return "联系人"  # 联系人及电话：李贤 88962022
    return next((table[k] for k in sorted(table, key=len, reverse=True) if len(k) >= 3 and label.endswith(k)), None)


def field_value(fields: tuple[tuple[str, str], ...], name: str) -> str | None:
    """The value of the labelled line whose label names the field `name` (办复类别 for 办理类别 …), or is `name`
    when it is a label of no known field (承办科室); the label `name` itself or the longest first (办理类别：A类
    before a record's 类别：经济建设)."""
    named = [(label, value) for label, value in fields if (_known_label(label) or label) == name]
    return max(named, key=lambda pair: (pair[0] == name, len(pair[0])))[1] if named else None


# --- the parts of a letter -------------------------------------------------------------------------------
def _heading(head: list[str], skip: set[int]) -> tuple[str | None, str | None]:
    """The letter's own title (its first line or lines) and a unit named before it on the same line."""
    block: list[str] = []
    for i, line in enumerate(head):
        if i in skip or len(line) > 60 or "收悉" in line or line.endswith((":", "：")):
            if block:
                break
            continue
        if not block and (not _TITLE_HINT_RE.search(line) or "。" in line):
            continue
        if block and (len(line) > 30 or re.search(r"[。;!?；！？]", line)):
            break  # a wrapped title's next line is short and ends no sentence
        block.append(line)
        if _TITLE_END_RE.search(compact(line)) or len(block) == 3:
            break
    if not block:
        return None, None
    heading = re.sub(r"\s+", "", "".join(block))
    if not _REPLY_RE.search(heading):  # "第63号 关于…的建议": the suggestion's own title, not the reply's
        return None, None
    suffixes = "|".join(unit_suffixes())
    unit = re.match(rf"(?P<unit>[\u4e00-\u9fff]{{2,30}}?(?:{suffixes}))(?=关于|对)", heading)
    return heading, unit["unit"] if unit else None


def _salutation(line: str) -> tuple[tuple[str, ...], str] | None:
    """(names, role) of "尊敬的朱杰代表:", "郭红苹、王玉花等委员:", "张三代表、李四代表:"; None for other lines."""
    m = re.fullmatch(r"(?:尊敬的)?(?P<names>[^:]{1,80}?)(?P<role>代表|委员)们?\s*:\s*(?:你们好|您好)?[!,。]?", line)
    if not m:
        return None
    return _names(re.sub(r"代表|委员", "、", m["names"])), m["role"]


def _addressee(head: list[str]) -> str | None:
    """A group addressed instead of deputies ("民盟温州市委员会：", "九三学社温州市委员会:"): the proposer."""
    for line, below in zip(head, [*head[1:], ""], strict=True):
        m = re.fullmatch(r"(?:尊敬的)?(?P<name>[\u4e00-\u9fff()（）]{3,30}):", line)
        if m is None or m["name"].endswith(("代表", "委员", "们")) or m["name"].startswith("各位"):
            continue
        if not re.search(r"如下|答复|现将|关于", line) and re.search(r"收悉|提出|您|你|贵", below):
            return m["name"]
    return None


def _names(raw: str) -> tuple[str, ...]:
    names = []
    for part in _NAME_SEP_RE.split(raw):
        for suffix in _NAME_SUFFIXES:
            part = part.removesuffix(suffix)
        if 2 <= len(part) <= 4 and re.fullmatch(r"[\u4e00-\u9fff·]+", part) and not any(
            bad in part for bad in _NOT_NAME_PARTS
        ):
            names.append(part)
    return tuple(dict.fromkeys(names))


def _opening_names(lines: list[str]) -> tuple[tuple[str, ...], str | None]:
    """Deputies named in the opening sentence: "王建国等5位代表提出的…", "张三委员在…提出的…"."""
    for line in lines:
        m = re.search(r"(?P<names>[\u4e00-\u9fff]{2,4}(?:[、,][\u4e00-\u9fff]{2,4})*)(?:等\s*\d*\s*[名位])?"
                      r"(?P<role>代表|委员)(?:们)?(?:在|提出|所提|领衔|联名|:)", line)
        if m and (names := _names(m["names"])):
            return names, m["role"]
    return (), None


def _closing(tail: list[str]) -> tuple[str | None, str | None]:
    """(unit, ISO date) from the signature: the last date line and the unit on or above it; without a
    date, the last short line that ends like a unit's name."""
    for i in range(len(tail) - 1, -1, -1):
        line = tail[i]
        if "印发" in line or line.startswith(("抄送", "抄报")) or len(line) > 60 or _LABEL_RE.match(line):
            continue  # 交办日期：… is the record's, not the signature's
        match = DATE_RE.search(line) or NUMERIC_DATE_RE.search(line)
        if not match:
            continue
        before = line[: match.start()].strip()
        if before and _unit_name(before) is None:
            continue  # 计划于2018年2月底前…: a sentence, not a signature
        if before:
            return _unit_name(before), iso_date(match)
        return (_unit_name(tail[i - 1]) if i > 0 else None), iso_date(match)
    for line in reversed(tail):
        if (unit := _unit_name(line)) and not line.startswith(("抄送", "联系")):
            return unit, None
    return None, None


def _unit_name(line: str) -> str | None:
    """The unit's name on a signature line ("温州市科学技术局", "泰顺县水利局（盖章）"), or None."""
    line = re.sub(r"[(（][^()（）]{0,6}[)）]$", "", line.strip()).removesuffix("文件").strip()
    first = line.split(" ")[0]
    if not re.fullmatch(r"[\u4e00-\u9fff()（）]{2,40}", first) or not first.endswith(unit_suffixes()):
        return None
    return first


def _proposal(fields: tuple[tuple[str, str], ...], regions: list[str]) -> tuple[str | None, str | None]:
    """(kind, number): from a 建议号/提案号 line, else 817号建议, (人大建议817号), 第123号提案 …, heading first."""
    for name, kind in (("建议号", "建议"), ("提案号", "提案")):
        value = field_value(fields, name)
        if value and (digits := re.search(r"\d{1,8}", value)):
            return kind, str(int(digits.group()))
    for region in regions:
        found = [m for rx in (NUMBER_AFTER_RE, NUMBER_BEFORE_RE, NUMBER_TITLED_RE) for m in rx.finditer(region)]
        if found:
            first = min(found, key=lambda m: m.start())
            kind, number = first["kind"] or first["kind2"], first["number"] or first["number2"]
            return ("建议" if kind == "议案" else kind), str(int(number))
    return None, None


def _title(head: list[str], heading: str | None, fields: tuple[tuple[str, str], ...]) -> str | None:
    """The suggestion's title: in 《》 when it reads like one, a 标题 line, “关于…的建议” quoted in the opening,
    or a line of its own above the reply; then any 《》 in the heading or the 收悉 sentence; else the heading."""
    found = [(m["title"].strip(), line) for line in head for m in TITLE_RE.finditer(line)]
    for title, _ in found:
        if title.startswith("关于") or title.endswith(("建议", "提案", "议案")):
            return title
    if labelled := field_value(fields, "标题"):
        return labelled.strip("《》")
    for line in head:
        m = _QUOTED_TITLE_RE.search(line)
        if m and (m.start() > 0 or not _REPLY_RE.search(line)):
            return m["title"]
    for title, line in found:
        if "收悉" in line or compact(line) == compact(heading or ""):
            return title
    return heading


def _contact(fields: tuple[tuple[str, str], ...], tail: list[str]) -> tuple[str | None, str | None]:
    person_raw = field_value(fields, "联系人") or next(
        (value for label, value in fields if label in ("承办人", "经办人", "联系人员")), None)
    phone_raw = field_value(fields, "联系电话")
    if person_raw is None:  # 联系电话：0539-8216620（联系人：马晓东）
        person_raw = next((m.group(1) for line in [phone_raw or "", *tail] if (m := _PERSON_IN_RE.search(line))), None)
    person = _person_name(person_raw) if person_raw else None
    phone = PHONE_RE.search(phone_raw or "") or PHONE_RE.search(person_raw or "")
    if phone is None:  # "电话 88962022" without a colon, in the closing
        phone = next((m for line in tail if "电话" in line and (m := PHONE_RE.search(line))), None)
    return person, (phone.group().strip() if phone else None)


_PERSON_IN_RE = re.compile(r"联系人[：:]\s*([^）)，,；;]+)")
_OFFICE_END = ("处", "科", "室", "部", "办", "局", "委", "中心", "站", "所", "队", "院", "会", "组", "股")


def _person_name(raw: str) -> str | None:
    """The person of a 联系人 value: 胡立强 of "银行保险处　胡立强", 李贤 of "李贤，联系电话…"."""
    for token in re.split(r"[\s，,、（）()：:]+", raw):
        name = re.match(r"[\u4e00-\u9fff·]{2,4}", token)
        if name and len(name.group()) == len(token) and not token.endswith(_OFFICE_END):
            return name.group()
    first = re.match(r"[\u4e00-\u9fff·]{2,4}", raw)
    return first.group() if first else None


def parse_metadata(text: str) -> LetterMeta:
    """What a letter says about itself. Fields it does not show stay None (or empty)."""
    raw = [line.strip() for line in text.split("\n") if line.strip()]
    lines = [nfkc(line).strip() for line in raw]
    top = top_heading_indexes(lines)
    head = lines[: min(top[0] if top else len(lines), HEAD_LINES)]
    salute_at = next((i for i, line in enumerate(head) if _salutation(line)), None)
    opening = head[: (salute_at or 0) + 3] if salute_at is not None else head[:6]
    tail = lines[-TAIL_LINES:]
    fields = _all_fields(lines, len(head) if salute_at is None else salute_at + 1)
    doc_number = DOC_NUMBER_RE.search("\n".join(line for line in raw[: min(6, len(head))] if len(line) <= 40)) or next(
        (m for line in raw[: len(head)] if (m := DOC_NUMBER_RE.fullmatch(line))), None)  # below a record
    number_value = field_value(fields, "文号")
    skip = {i for i, line in enumerate(head) if labelled_fields(line, generic=True) or DOC_NUMBER_RE.fullmatch(line)}
    heading, heading_unit = _heading(raw[: salute_at if salute_at is not None else len(head)], skip)
    names, role = _salutation(head[salute_at]) if salute_at is not None else ((), None)  # type: ignore[misc]
    if not names:
        for label in ("领衔代表", "提案人"):
            if (value := field_value(fields, label)) and (names := _names(value)):
                break
        else:
            names, opening_role = _opening_names(opening)
            role = role or opening_role
            if not names and (group := _addressee(head)):
                names = (group,)
    kind, number = _proposal(fields, [heading or "", "\n".join(head), text[:2000]])
    if kind is None:
        named = heading or ""
        kind = "提案" if role == "委员" or "提案" in named else "建议" if role or "建议" in named else None
    if names and role is None and kind and all(len(n) <= 4 for n in names):
        role = "委员" if kind == "提案" else "代表"
    unit, date = _closing(tail)
    unit = unit or heading_unit or field_value(fields, "承办单位") or next(
        (u for line in head[:3] if (u := _unit_name(line))), None)
    person, phone = _contact(fields, tail)
    cc = field_value(fields, "抄送")
    session = SESSION_RE.search(heading or "") or SESSION_RE.search("\n".join(head)) or SESSION_RE.search(text)
    return LetterMeta(
        doc_number=re.sub(r"\s+", "", (doc_number.group() if doc_number else number_value) or "") or None,
        session=session.group() if session else None,
        proposal_kind=kind,
        proposal_number=number,
        deputies=names,
        title=_title(raw[: len(head)], heading, fields),
        unit=unit,
        date=date,
        contact_person=person,
        contact_phone=phone,
        cc=tuple(c for c in _LIST_SEP_RE.split(cc.rstrip("。.")) if c) if cc else (),
        heading=heading,
        role=role,
        fields=fields,
    )


def _all_fields(lines: list[str], head_end: int) -> tuple[tuple[str, str], ...]:
    """Every labelled line: any label in the letterhead and the last lines, known labels elsewhere; and a
    category marked without a label on the first lines ("(A类)", "…的答复(B类)")."""
    tail_start = max(head_end, len(lines) - TAIL_LINES)
    pairs: list[tuple[str, str]] = []
    for i, line in enumerate(lines):
        pairs += labelled_fields(line, generic=i < head_end or i >= tail_start)
    if field_value(tuple(pairs), "办复类别") is None:
        marked = next((m for line in lines[:head_end] if (m := _CATEGORY_MARK_RE.search(line))), None)
        if marked:
            pairs.append(("办复类别", marked["category"] + "类"))
    return tuple(dict.fromkeys(pairs))


def field_text(meta: LetterMeta, name: str) -> str | None:
    """A field of the letter as the letter writes it: doc_number, session, deputy, contact, cc, unit, date,
    title, proposal_number, or the name of a labelled line (办复类别, 承办责任人 …)."""
    values = {
        "doc_number": meta.doc_number,
        "session": meta.session,
        "deputy": "、".join(meta.deputies) or None,
        "contact": "，".join(v for v in (meta.contact_person, meta.contact_phone) if v) or None,
        "contact_person": meta.contact_person,
        "contact_phone": meta.contact_phone,
        "cc": "、".join(meta.cc) or None,
        "unit": meta.unit,
        "date": meta.date,
        "title": f"《{meta.title}》" if meta.title else None,
        "proposal_number": f"{meta.proposal_number}号" if meta.proposal_number else None,
    }
    if name in values:
        return values[name]
    found = field_value(meta.fields, name)
    if found is None and name in _FIELD_FALLBACK:  # 领衔代表 asked of a letter without that line: its deputies
        return values[_FIELD_FALLBACK[name]]
    return found


_FIELD_FALLBACK = {"领衔代表": "deputy", "领衔人": "deputy", "承办单位": "unit"}
