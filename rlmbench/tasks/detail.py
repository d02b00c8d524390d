"""Tool answers the size real ones are: a record of detail beside the finding, of about `answer_tokens` tokens.

Real tools return records (a monograph's mechanism and evidence, a control's audit history, a CVE's advisory), and
that is where the architectures part: a step-wise agent re-reads every answer at every step, code keeps them in
variables. The detail is drawn from the task's own sentences (`[answer_detail]`, or GENERIC where a task gives
none), deterministic per check and --seed, the same in every arm and run, and it never touches the finding: a text
answer keeps its statement as its first line (the detail follows on lines of its own), a JSON answer keeps its
fields and gains the record's (`fields`: names a task may not give its check's own keys). No sentence holds `: `, so
no detail reads as a value (`{item}: {value}`) where a model or the oracle looks for one.

The size is aimed at in characters (CHARS_PER_TOKEN); the ledger counts each answer's real tokens after the run.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlmbench.tasks.behaviour import unit_draw

CHARS_PER_TOKEN = 5.2
"""English prose in o200k_base, the tokenizer the benchmark counts with: 4.7 to 5.5 on the built-in vocabularies
(measured), so a record lands within about 20% of its size; the ledger counts what each answer really holds."""
RESERVED = frozenset({"check", "status", "severity", "details", "value", "error"})
"""A JSON answer's own keys: no detail field may take one."""


@dataclass(frozen=True)
class DetailVocabulary:
    fields: tuple[tuple[str, tuple[str, ...]], ...]
    """(field, the sentences it is drawn from), in the order the record shows them."""


GENERIC = DetailVocabulary((
    ("source", ("Record compiled from the reference table for {0}.", "Entry cross-checked against the second "
                "catalogue; no discrepancy noted.", "Primary source: the maintained register, revision 14.")),
    ("history", ("Reviewed at the last scheduled audit; unchanged since.", "First recorded three releases ago and "
                 "re-confirmed at each review.", "Amended once after a reviewer's comment; the amendment is "
                 "editorial.")),
    ("notes", ("No further qualification applies to {0}.", "Values are given as recorded; units follow the "
               "register's conventions.", "Related entries exist for neighbouring items; they are listed "
               "separately.")),
))
"""For a task that declares no vocabulary of its own."""


def _drawn(vocabulary: DetailVocabulary, tool: str, key: tuple[str, ...], seed: int, tokens: int,
           lines: bool = False) -> dict[str, list[str]]:
    """About `tokens` tokens of sentences for one check, by field (none for 0): drawn by --seed and the check;
    `lines`: each sentence on a line of its own, after its field's name."""
    if tokens <= 0:
        return {}
    drawn: dict[str, list[str]] = {name: [] for name, _ in vocabulary.fields}
    budget = tokens * CHARS_PER_TOKEN - sum(len(name) + 6 for name in drawn)  # each field's name and quotes
    size, i = 0, 0
    while True:
        name, sentences = vocabulary.fields[i % len(vocabulary.fields)]
        sentence = sentences[int(unit_draw(seed, "detail", tool, *key, str(i)) * len(sentences))].format(*key)
        cost = len(sentence) + 1 + (1.5 * (len(name) + 3) if lines else 0)  # a field name is less dense
        if size + cost / 2 > budget and size:  # the sentence that would overshoot by more than half
            break
        drawn[name].append(sentence)
        size, i = size + cost, i + 1
    return {name: sentences for name, sentences in drawn.items() if sentences}


def detail_record(vocabulary: DetailVocabulary, tool: str, key: tuple[str, ...], seed: int,
                  tokens: int) -> dict[str, str]:
    """About `tokens` tokens of detail for one check, as field -> text; {} for 0."""
    return {name: " ".join(sentences) for name, sentences in _drawn(vocabulary, tool, key, seed, tokens).items()}


def with_detail(answer: str | dict, vocabulary: DetailVocabulary, tool: str, key: tuple[str, ...], seed: int,
                tokens: int) -> str | dict:
    """The answer with its record: beside a JSON answer's fields; below a text answer's statement, a sentence a
    line (`[mechanism] ...`), as a record is listed, and so that no line is long for a reader's patterns."""
    if tokens <= 0:
        return answer
    if isinstance(answer, dict):
        return {**answer, **detail_record(vocabulary, tool, key, seed, tokens)}
    drawn = _drawn(vocabulary, tool, key, seed, tokens, lines=True)
    return answer + "".join(f"\n[{name}] {sentence}" for name, sentences in drawn.items() for sentence in sentences)
