"""Which letters a question is about: the letters it names, and the letter a conversation keeps to.

A deputy names a letter the short way ("91号", "第182号建议", "虞代表的建议", "交通局那份", "备用水源那份答复",
"第二份") and then keeps asking about it ("电话呢？", "这份的联系人呢"). The scope of a turn is worked out from
the turns before it, the same way for the chat, `answer(history=…)` and POST /api/ask: a letter named carries
across turns until another is named or the deputy asks about all letters; a letter an answer came from carries
to an elliptical follow-up; "这份/那份" is the letter of the last answer. A short reference that fits several
letters is not guessed: the reply lists them.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from .identity import cn_number, compact
from .names import DOC, DOCNO, PERSON, PLACE, PROPOSAL, STRONG_KINDS, UNIT, letter_keys
from .query import META, Question, analyse, is_field_word
from .schema import LetterInfo
from .store import IndexSnapshot

# What follows "91号" when it names a letter: 建议/提案 (a suggestion number), 文/函/答复函 (a 文号's number), or
# a word that cannot continue a figure ("91号的…", "91号答复"); "3号楼" names nothing.
_AFTER_NUMBER_RE = re.compile(
    r"(?P<proposal>(?:人大代表|政协委员|代表|委员)?(?:建议|提案|议案))|(?P<docno>文|答复函|复函|函|公函)"
    r"|(?P<any>答复|回复|的|里|中|那|这|说|讲|提|呢|吗|是|有|办|件|份|$|[^\u4e00-\u9fff\d])"
)
# A unit or place followed by one of these names a letter ("交通局那份", "泰顺的答复函"), not only a topic.
_MARKER_RE = re.compile(r"(?:的)?(?:那份|这份|那封|这封|那个答复|答复函|复函|的答复|的回复|答复|回复|回函|来函)")
_TITLE_PHRASE_RES = (
    re.compile(r"(?:关于)?(?P<phrase>[\u4e00-\u9fff]{3,16}?)的?(?:那份|那封|这份|这封|那个)(?:答复|建议|提案|复函)?"),
    re.compile(r"关于(?P<phrase>[\u4e00-\u9fff]{3,16}?)的(?:建议|提案|答复|那份)"),
)
ALL_RE = re.compile(
    r"(?:所有|全部|每一?份|各份|各个|别的|其他|其它|其余|另外的?)的?(?:答复函|答复|回复|复函|函|建议|提案|单位)"
)
OTHERS_RE = re.compile(r"(?:别的|其他|其它|其余|另外)")
PREVIOUS_RE = re.compile(r"上一份|上一封|前一份|前一封|之前那份|刚才那份")  # the letter before the current one
DEMONSTRATIVE_RE = re.compile(
    r"这份|那份|这封|那封|该函|本函|此函|这个答复|那个答复|该答复|这个建议|那个建议|该建议|这件|这条建议"
)
ORDINAL_RE = re.compile(r"第(?P<n>[一二三四五六七八九十]{1,2}|\d{1,2})(?:份|封|件|个答复|个建议)")
LISTED_RE = re.compile(r"^\s*(\d{1,2})[.、]\s*(.+)$", re.MULTILINE)  # "1. 《…》（文号）" lines of a reply
CITED_PREFIX = "—— "  # the citation line of an answer (chatbot.compose)
HISTORY_TURNS = 20  # the turns before a question that are read for its scope


@dataclass(frozen=True)
class Reference:
    """A span of a question that names letters: a key of the letter_keys table and what it names."""

    key: str
    kind: str
    letters: tuple[str, ...]
    marked: bool = False  # a unit or place followed by 那份/的答复…: it names the letter, not a topic


@dataclass(frozen=True)
class Scope:
    """The letters a turn is answered from; no doc_ids means all letters."""

    doc_ids: tuple[str, ...] = ()
    explicit: bool = False  # named (or chosen) by the deputy: carries to every later turn
    ambiguous: tuple[str, ...] = ()  # a short reference fits these letters: the reply asks which one
    excluded: tuple[str, ...] = ()  # "其他答复函呢": every letter but these
    reference: str = ""  # the words that named the letters
    soft: tuple[str, ...] = ()  # letters of the place or unit the turn named: what a follow-up keeps to
    reset: bool = False  # the deputy asked to look at all letters again ("所有答复函")


class LetterDirectory:
    """The letters of one index generation, found by what a text names: 文号, numbers, people, title, unit, place.

    The writer stores each letter's keys (chatbot.names.letter_keys); a lookup asks which of the text's
    substrings are keys (of the lengths keys have): its cost follows the text, not the number of letters.
    """

    def __init__(self, lookup: Callable[[Collection[str]], dict[str, list[tuple[str, str]]]],
                 lengths: Sequence[int], by_id: Mapping[str, LetterInfo], position: Callable[[str], int],
                 titled: Callable[[str], list[str]]) -> None:
        self.by_id = by_id  # doc_id -> LetterInfo (a snapshot reads each on first use)
        self._lookup = lookup
        self._lengths = sorted(set(lengths), reverse=True)
        self._position = position  # the letter's place in the index's order
        self._titled = titled

    @classmethod
    def of(cls, snapshot: IndexSnapshot) -> LetterDirectory:
        return cls(snapshot.letters_named, snapshot.key_lengths, snapshot.by_id, snapshot.position,
                   snapshot.letters_titled)

    @classmethod
    def from_letters(cls, letters: Sequence[LetterInfo]) -> LetterDirectory:
        """A directory of these letters, in this order (no index needed)."""
        by_id = {letter.doc_id: letter for letter in letters}
        order = {doc_id: i for i, doc_id in enumerate(by_id)}
        table: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for letter in letters:
            for key, kind in sorted(letter_keys(letter.doc_id, letter.meta)):
                table[key].append((letter.doc_id, kind))

        def titled(phrase: str) -> list[str]:
            return sorted({d for k, found in table.items() for d, kind in found if kind == "title" and phrase in k})

        return cls(lambda keys: {k: table[k] for k in keys if k in table}, [len(k) for k in table], by_id,
                   order.__getitem__, titled)

    def references(self, text: str) -> list[Reference]:
        """The spans of `text` that name letters, longest first and never overlapping ("291号" inside the 文号
        温文建复〔2015〕291号 is not suggestion no. 291; "817号" inside "1817号" names nothing)."""
        asked = compact(text)
        lengths = [n for n in self._lengths if n <= len(asked)]
        found = self._lookup({asked[i : i + n] for n in lengths for i in range(len(asked) - n + 1)})
        taken = [False] * len(asked)
        refs: list[Reference] = []
        for length in lengths:
            for start in range(len(asked) - length + 1):
                key = asked[start : start + length]
                if key not in found or any(taken[start : start + length]):
                    continue
                if asked[start].isdigit() and start and asked[start - 1].isdigit():
                    continue
                ref = self._reference(key, found[key], asked[start + length :])
                if ref is not None:
                    refs.append(ref)
                    taken[start : start + length] = [True] * length
        return refs

    def _reference(self, key: str, named: list[tuple[str, str]], after: str) -> Reference | None:
        kinds = {kind for _, kind in named}
        if kinds & {DOCNO, PROPOSAL} and not kinds - {DOCNO, PROPOSAL}:
            follow = _AFTER_NUMBER_RE.match(after)
            if follow is None:
                return None  # 3号楼
            wanted = {PROPOSAL} if follow["proposal"] else {DOCNO} if follow["docno"] and DOCNO in kinds else kinds
            named = [(d, k) for d, k in named if k in wanted]
        kind = min(kinds, key=_KIND_ORDER.index)
        marked = kind in (UNIT, PLACE) and bool(_MARKER_RE.match(after))
        return Reference(key, kind, self.in_order({d for d, _ in named}), marked)

    def in_order(self, doc_ids: Collection[str]) -> tuple[str, ...]:
        """These letters (those the index holds) in the index's order."""
        return tuple(sorted((d for d in doc_ids if d in self.by_id), key=self._position))

    def named_in(self, text: str) -> tuple[str, ...]:
        """Letters `text` names on purpose (a 文号, a number, a person, a title): the strong references."""
        return self.in_order({d for r in self.references(text) if r.kind in STRONG_KINDS for d in r.letters})

    def titled(self, text: str) -> tuple[str, ...]:
        """Letters whose title holds the phrase before "那份/的建议" in `text` ("备用水源那份答复")."""
        for pattern in _TITLE_PHRASE_RES:
            m = pattern.search(compact(text))
            if m and len(m["phrase"]) >= 3:
                found = self._titled(m["phrase"])
                if found:
                    return self.in_order(found)
        return ()


_KIND_ORDER = [DOC, DOCNO, PROPOSAL, PERSON, "title", UNIT, PLACE]


@dataclass
class _Conversation:
    """What the turns so far leave behind: the scope, the letter of the last answer, the letters last listed."""

    scope: Scope = field(default_factory=Scope)
    cited: list[str] = field(default_factory=list)  # the letters answers came from, the latest last, each once
    listed: tuple[str, ...] = ()

    @property
    def last_cited(self) -> str | None:
        return self.cited[-1] if self.cited else None


def resolve_scope(question: Question, history: Sequence[object] | None, directory: LetterDirectory) -> Scope:
    """The scope of `question`, after the turns of `history` (Gradio messages, (user, bot) pairs or strings)."""
    return _step(_replay(history, directory), question, directory)


def conversation_scope(history: Sequence[object] | None, directory: LetterDirectory) -> tuple[str, ...]:
    """The letters the conversation keeps to after `history` (named by the deputy), or () for all letters:
    what the chat shows as "正在查看"."""
    scope = _replay(history, directory).scope
    return scope.doc_ids if scope.explicit else ()


def _replay(history: Sequence[object] | None, directory: LetterDirectory) -> _Conversation:
    state = _Conversation()
    for role, content in _turns(history)[-HISTORY_TURNS:]:
        if role == "user":
            scope = _step(state, analyse(content), directory)
            state.scope = Scope(scope.soft) if scope.soft and not scope.doc_ids else scope
        else:
            _read_reply(state, content, directory)
    return state


def _turns(history: Sequence[object] | None) -> list[tuple[str, str]]:
    turns: list[tuple[str, str]] = []
    for item in history or []:
        if isinstance(item, str):
            turns.append(("user", item))
        elif isinstance(item, dict) and isinstance(item.get("content"), str):
            turns.append(("user" if item.get("role") == "user" else "assistant", item["content"]))
        elif isinstance(item, list | tuple) and item and all(isinstance(x, str) for x in item[:2]):
            turns += [("user", item[0])] + ([("assistant", item[1])] if len(item) > 1 else [])
    return turns


def _read_reply(state: _Conversation, reply: str, directory: LetterDirectory) -> None:
    """An assistant message: the letter its answer cites, and the letters it lists."""
    text = html.unescape(reply)
    listed = [_doc_named(line, directory) for _, line in LISTED_RE.findall(text)]
    if listed and all(listed):
        state.listed = tuple(d for d in listed if d)
    cited = next((_doc_named(line, directory) for line in text.split("\n") if line.startswith(CITED_PREFIX)), None)
    if cited:
        state.cited = [d for d in state.cited if d != cited] + [cited]
        if not state.scope.explicit:
            state.scope = Scope((cited,))


def _doc_named(line: str, directory: LetterDirectory) -> str | None:
    docs = [r.letters[0] for r in directory.references(line) if r.kind == DOC and len(r.letters) == 1]
    return docs[-1] if docs else None  # the id stands after the title: （文号）


def _step(state: _Conversation, question: Question, directory: LetterDirectory) -> Scope:
    """The scope of one question given the conversation so far."""
    current = state.scope
    ordinal = ORDINAL_RE.search(question.text)
    if ordinal and state.listed and 1 <= (n := cn_number(ordinal["n"])) <= len(state.listed):
        return Scope((state.listed[n - 1],), explicit=True, reference=ordinal.group())
    refs = directory.references(question.text)
    strong = [r for r in refs if r.kind in STRONG_KINDS or r.marked]
    if strong:
        named = _named(strong, [r for r in refs if r not in strong], question, directory)
        if named.ambiguous and current.doc_ids and set(current.doc_ids) <= set(named.ambiguous):
            return current  # "91号建议里…" while talking about one of the two 91号: that one
        return named
    titled = directory.titled(question.text) if _MARKER_RE.search(question.text) else ()
    if titled:
        return Scope(titled, explicit=True) if len(titled) == 1 else Scope(ambiguous=titled)
    if ALL_RE.search(question.text):
        others = current.doc_ids or ((state.last_cited,) if state.last_cited else ())
        return Scope(excluded=others) if OTHERS_RE.search(question.text) else Scope(reset=True)
    if PREVIOUS_RE.search(question.text) and len(state.cited) >= 2:
        return Scope((state.cited[-2],), explicit=True)
    if DEMONSTRATIVE_RE.search(question.text) and (state.last_cited or current.doc_ids):
        return Scope((state.last_cited,) if state.last_cited else current.doc_ids, explicit=True)
    if refs:  # a unit or place: a new topic, unless it is the current letter's or only a place
        units = [r for r in refs if r.kind == UNIT] or refs  # a unit names letters; a place may be their content
        letters = set.intersection(*(set(r.letters) for r in units)) or {d for r in units for d in r.letters}
        only_places = all(r.kind == PLACE for r in refs)  # 泰顺县呢？ may be a row of the current letter's table
        if current.doc_ids and (letters >= set(current.doc_ids) or (current.explicit and only_places)):
            return current
        ordered = directory.in_order(letters)
        if question.kind == META and (len(ordered) == 1 or not _says_more(question, refs)):
            return Scope(ordered) if len(ordered) == 1 else Scope(ambiguous=ordered, reference=refs[0].key)
        return Scope(soft=ordered)  # 清河HPV那个提案是谁提的: the topic says which of 清河's letters
    if current.explicit or (current.doc_ids and question.is_follow_up):
        return current
    return Scope()


def _says_more(question: Question, refs: Sequence[Reference]) -> bool:
    """Whether a question about a letter names more than the letter's place or unit and the field: a topic
    (HPV, 特色村寨) that tells which of the place's letters is meant."""
    named = "|".join(r.key for r in refs)
    return any(t.strong and t.text not in named and not is_field_word(t.text, question.text) for t in question.terms)


def _named(strong: list[Reference], soft: list[Reference], question: Question,
           directory: LetterDirectory) -> Scope:
    """The letters the strong references name together, narrowed by any place or unit named beside them."""
    sets = [set(r.letters) for r in strong]
    letters = set.intersection(*sets) or set.union(*sets)
    narrowed = letters & {d for r in soft for d in r.letters}
    letters = narrowed or letters
    ordered = directory.in_order(letters)
    reference = "、".join(r.key for r in strong)
    short = any(r.kind in (DOCNO, PROPOSAL, PERSON) for r in strong)
    if len(ordered) > 1 and (short or question.kind == META):
        return Scope(ambiguous=ordered, reference=reference)
    return Scope(ordered, explicit=True, reference=reference)
