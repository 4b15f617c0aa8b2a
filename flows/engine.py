"""The pure flow engine: advance(flows, state, input, now) -> Outcome(state, effects).

No I/O, no clock, no randomness, no globals: the same arguments always give the same outcome, so a test can
replay a 12-week programme in a second. Every input gets at least one message back (never silence), and a
step cap stops a badly written flow that would otherwise loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from flows import phrases
from flows.conditions import Comparison
from flows.effects import (
    CancelTimer,
    Effect,
    LanguageChanged,
    Literal,
    Part,
    Phrase,
    Prompt,
    PromptChoice,
    RecordAnswer,
    RecordScore,
    RunChange,
    RunEvent,
    ScheduleTimer,
    Send,
)
from flows.inputs import Input, Resume, SetLanguage, StartFlow, Text, TimerFired
from flows.model import END, Flow, FlowLibrary, Step, StepType
from flows.parsing import Accepted, Keyword, KeywordInput, Rejected, Rejection, match_keyword, parse_answer
from flows.scoring import scored
from flows.state import Answer, Run, State

MAX_TRANSITIONS = 200  # steps one input may move through before the flow is judged runaway
LANGUAGES = ("da", "en")


@dataclass(frozen=True)
class Outcome:
    state: State
    effects: tuple[Effect, ...]

    @property
    def messages(self) -> list[Send]:
        return [e for e in self.effects if isinstance(e, Send)]


def advance(flows: FlowLibrary, state: State, inp: Input, now: datetime) -> Outcome:
    """Apply one input to a participant's conversation."""
    turn = _Turn(flows, state, now)
    if isinstance(inp, Text):
        turn.on_text(inp.text)
    elif isinstance(inp, StartFlow):
        turn.start(inp.flow_id)
    elif isinstance(inp, Resume):
        turn.on_resume()
    elif isinstance(inp, SetLanguage):
        turn.set_language(inp.lang)
    else:
        turn.on_timer(inp)
    return Outcome(turn.state, tuple(turn.effects))


class _RunawayFlow(Exception):
    pass


class _Turn:
    """The working memory of one `advance` call; discarded when it returns."""

    def __init__(self, flows: FlowLibrary, state: State, now: datetime) -> None:
        self.flows = flows
        self.state = state
        self.now = now
        self.effects: list[Effect] = []

    # -- helpers -------------------------------------------------------------------------------------------

    @property
    def lang(self) -> str:
        return self.state.lang

    def say(self, *parts: Part, prompt: Prompt | None = None) -> None:
        self.effects.append(Send(tuple(parts), prompt))

    def phrase(self, msgid: str, **params: str | int | float) -> Phrase:
        return Phrase(msgid, params)

    def set_run(self, run: Run | None) -> None:
        self.state = replace(self.state, run=run)

    def event(self, change: RunChange, run: Run) -> None:
        self.effects.append(RunEvent(change, run.seq, run.flow_id, run.flow_version))

    def flow_of(self, run: Run) -> Flow | None:
        return self.flows.get(run.flow_id, run.flow_version)

    def end_run(self, run: Run, change: RunChange) -> None:
        self.event(change, run)
        self.effects.append(CancelTimer(run.timer_key))
        self.set_run(None)

    # -- inputs --------------------------------------------------------------------------------------------

    def on_text(self, text: str) -> None:
        run = self.state.run
        if run is not None:
            flow = self.flow_of(run)
            if flow is None:
                self.end_run(run, RunChange.FAILED)
                self.say(self.phrase(phrases.FLOW_BROKEN))
                return
            if flow.expires_after is not None and self.now - run.started_at > flow.expires_after:
                self.end_run(run, RunChange.EXPIRED)
                self.say(self.phrase(phrases.EXPIRED))
                return
        keyword = match_keyword(text)
        if keyword is not None:
            self.on_keyword(keyword)
            return
        run = self.state.run
        if run is None:
            self.say(self.phrase(phrases.NO_RUN))
            return
        if run.paused:
            self.resume(run)
            return
        self.on_answer(run, text)

    def on_resume(self) -> None:
        run = self.state.run
        if run is None:
            self.say(self.phrase(phrases.HELP_NO_RUN))
        else:
            self.resume(run)

    def on_timer(self, timer: TimerFired) -> None:
        run = self.state.run
        if run is None or timer.key != run.timer_key:
            return  # a timer of a run that has already ended: nothing to do
        flow = self.flow_of(run)
        if flow is None or flow.expires_after is None or self.now - run.started_at >= flow.expires_after:
            self.end_run(run, RunChange.EXPIRED)

    def start(self, flow_id: str) -> None:
        flow = self.flows.latest(flow_id)
        if flow is None:
            self.say(self.phrase(phrases.UNKNOWN_FLOW))
            return
        if self.state.run is not None:
            self.end_run(self.state.run, RunChange.ABANDONED)
        seq = self.state.runs_started + 1
        run = Run(seq, flow.id, flow.version, step_id="", started_at=self.now)
        self.state = replace(self.state, runs_started=seq, run=run)
        self.event(RunChange.STARTED, run)
        if flow.expires_after is not None:
            self.effects.append(ScheduleTimer(run.timer_key, self.now + flow.expires_after))
        self.go(flow, run, flow.steps[0].id)

    # -- keywords ------------------------------------------------------------------------------------------

    def on_keyword(self, keyword: KeywordInput) -> None:
        run = self.state.run
        match keyword.keyword:
            case Keyword.LANGUAGE:
                self.switch_language(keyword.argument)
            case Keyword.HELP:
                self.say(self.phrase(phrases.HELP if run else phrases.HELP_NO_RUN))
                if run is not None:
                    self.set_run(replace(run, invalid_streak=0))
                    self.ask_again(run)
            case Keyword.PAUSE:
                if run is None:
                    self.say(self.phrase(phrases.NOTHING_TO_PAUSE))
                elif run.paused:
                    self.say(self.phrase(phrases.STILL_PAUSED))
                else:
                    self.set_run(replace(run, paused=True, invalid_streak=0))
                    self.event(RunChange.PAUSED, run)
                    self.say(self.phrase(phrases.PAUSED))
            case Keyword.RESUME:
                if run is None:
                    self.say(self.phrase(phrases.NO_RUN))
                else:
                    self.resume(run)
            case Keyword.STOP:
                if run is None:
                    self.say(self.phrase(phrases.NOTHING_TO_STOP))
                else:
                    self.end_run(run, RunChange.STOPPED)
                    self.say(self.phrase(phrases.STOPPED))
            case Keyword.BACK:
                if run is None:
                    self.say(self.phrase(phrases.NO_RUN))
                else:
                    self.back(run)

    def set_language(self, lang: str) -> None:
        if lang in LANGUAGES and lang != self.lang:
            self.state = replace(self.state, lang=lang)
            self.effects.append(LanguageChanged(lang))

    def switch_language(self, wanted: str | None) -> None:
        lang = wanted or ("en" if self.lang == "da" else "da")
        run = self.state.run
        flow = self.flow_of(run) if run else None
        if flow is not None and lang not in flow.languages:
            lang = self.lang
        if lang != self.lang:
            self.state = replace(self.state, lang=lang)
            self.effects.append(LanguageChanged(lang))
        self.say(self.phrase(phrases.LANGUAGE_CHANGED))
        if run is not None and not run.paused:
            self.ask_again(run)

    def resume(self, run: Run) -> None:
        if run.paused:
            run = replace(run, paused=False)
            self.set_run(run)
            self.event(RunChange.RESUMED, run)
        self.say(self.phrase(phrases.RESUMED))
        self.ask_again(run)

    def back(self, run: Run) -> None:
        if run.paused:
            run = replace(run, paused=False)
            self.event(RunChange.RESUMED, run)
        flow = self.flow_of(run)
        if flow is None or not run.trail:
            self.set_run(replace(run, invalid_streak=0))
            self.say(self.phrase(phrases.BACK_AT_FIRST))
            self.ask_again(run)
            return
        previous = run.trail[-1]
        run = replace(run, step_id=previous, trail=run.trail[:-1], invalid_streak=0)
        self.set_run(run)
        step = flow.step(previous)
        answer = run.answers.get(previous)
        if step is not None and answer is not None:
            self.say(self.phrase(phrases.BACK_TO, answer=self.describe_answer(step, answer)))
            self.ask(flow, run, step)

    def describe_answer(self, step: Step, answer: Answer) -> str:
        if step.type is StepType.CHOICE:
            label = next((c.label.get(self.lang) for c in step.choices if c.value == answer.value), "")
            return f"{answer.value} ({label})" if label else str(answer.value)
        if step.type is StepType.YESNO:
            return answer.raw
        return str(answer.value)

    # -- answering -----------------------------------------------------------------------------------------

    def on_answer(self, run: Run, text: str) -> None:
        flow = self.flow_of(run)
        step = flow.step(run.step_id) if flow else None
        if flow is None or step is None or not step.is_question:
            self.end_run(run, RunChange.FAILED)
            self.say(self.phrase(phrases.FLOW_BROKEN))
            return
        result = parse_answer(step, text)
        if isinstance(result, Rejected):
            self.reprompt(flow, run, step, result.reason)
            return
        assert isinstance(result, Accepted)
        raw = text.strip()
        self.effects.append(RecordAnswer(run.seq, flow.id, flow.version, step.id, result.value, raw))
        run = run.answered(step.id, Answer(result.value, raw))
        self.set_run(run)
        self.go(flow, run, self.next_step(flow, run, step))

    def reprompt(self, flow: Flow, run: Run, step: Step, reason: Rejection) -> None:
        run = replace(run, invalid_streak=run.invalid_streak + 1)
        self.set_run(run)
        if run.invalid_streak >= 3:  # offer a way out instead of repeating; then start counting again
            self.set_run(replace(run, invalid_streak=0))
            self.say(self.phrase(phrases.STRUGGLING))
            self.ask(flow, run, step)
            return
        intro = {
            Rejection.EMPTY: phrases.NOTHING_RECEIVED,
            Rejection.TOO_LONG: phrases.TEXT_TOO_LONG if step.type is StepType.TEXT else phrases.TOO_LONG_FOR_ANSWER,
        }.get(reason, phrases.NOT_UNDERSTOOD)
        allowed = self.allowed(step)
        if reason is Rejection.TOO_PRECISE and step.decimals > 0:
            allowed = self.phrase(phrases.ALLOWED_DECIMALS, decimals=step.decimals)
        # the allowed answers are in the text already; the prompt still carries them as buttons
        prompt = replace(self.prompt(flow, run, step), list_choices=False)
        self.say(self.phrase(intro, max_length=step.max_length), allowed, prompt=prompt)

    def allowed(self, step: Step) -> Part:
        match step.type:
            case StepType.CHOICE:
                listing = ", ".join(f"{c.value} = {c.label.get(self.lang)}" for c in step.choices)
                return self.phrase(phrases.ALLOWED_CHOICES, choices=listing)
            case StepType.SCALE:
                return self.phrase(phrases.ALLOWED_RANGE, low=_num(step.minimum), high=_num(step.maximum))
            case StepType.NUMBER:
                if step.decimals == 0:
                    return self.phrase(phrases.ALLOWED_RANGE, low=_num(step.minimum), high=_num(step.maximum))
                return self.phrase(phrases.ALLOWED_NUMBER, low=_num(step.minimum), high=_num(step.maximum))
            case StepType.YESNO:
                return self.phrase(phrases.ALLOWED_YESNO)
            case _:
                return self.phrase(phrases.ANSWER_TEXT, max_length=step.max_length)

    # -- moving through the flow ---------------------------------------------------------------------------

    def next_step(self, flow: Flow, run: Run, step: Step) -> str:
        def lookup(c: Comparison) -> float | None:
            if c.is_score:
                found = scored(flow, _numeric(run)).get(c.name)
                return None if found is None else found[0]
            answer = run.answers.get(c.ref)
            return answer.value if answer is not None and not isinstance(answer.value, str) else None

        for branch in step.next:
            if branch.condition is None or branch.condition.holds(lookup):
                return branch.target
        index = flow.position(step.id) + 1
        return flow.steps[index].id if index < len(flow.steps) else END

    def go(self, flow: Flow, run: Run, target: str) -> None:
        """Walk from `target` through message steps to the next question, or finish the flow."""
        sent_message = False
        for _ in range(MAX_TRANSITIONS):
            if target == END:
                self.finish(flow, run, closing_sent=sent_message)
                return
            step = flow.step(target)
            if step is None:
                break
            if step.is_question:
                run = replace(run, step_id=step.id)
                self.set_run(run)
                self.ask(flow, run, step)
                return
            self.say(Literal(step.text.get(self.lang), self.score_params(flow, run)))
            sent_message = True
            target = self.next_step(flow, run, step)
        self.end_run(run, RunChange.FAILED)
        self.say(self.phrase(phrases.FLOW_BROKEN))

    def score_params(self, flow: Flow, run: Run) -> dict[str, str | int | float]:
        params: dict[str, str | int | float] = {}
        for score_id, (value, band) in scored(flow, _numeric(run)).items():
            params[f"score.{score_id}"] = value
            params[f"band.{score_id}"] = band.label.get(self.lang) if band is not None else ""
        return params

    def finish(self, flow: Flow, run: Run, closing_sent: bool) -> None:
        for score_id, (value, band) in scored(flow, _numeric(run)).items():
            self.effects.append(RecordScore(run.seq, flow.id, flow.version, score_id, value,
                                            band.id if band is not None else None))
        self.end_run(run, RunChange.COMPLETED)
        if not closing_sent:
            self.say(self.phrase(phrases.FINISHED))

    # -- asking --------------------------------------------------------------------------------------------

    def ask_again(self, run: Run) -> None:
        flow = self.flow_of(run)
        step = flow.step(run.step_id) if flow else None
        if flow is not None and step is not None:
            self.ask(flow, run, step)

    def ask(self, flow: Flow, run: Run, step: Step) -> None:
        questions = flow.questions
        number = next((i for i, q in enumerate(questions, start=1) if q.id == step.id), 0)
        heading = f"({number}/{len(questions)}) " if len(questions) > 1 else ""
        self.say(Literal(heading + step.text.get(self.lang)), self.hint(step), prompt=self.prompt(flow, run, step))

    def hint(self, step: Step) -> Part:
        low, high = _num(step.minimum), _num(step.maximum)
        match step.type:
            case StepType.CHOICE:
                return self.phrase(phrases.ANSWER_CHOICE)
            case StepType.SCALE if step.min_label is not None and step.max_label is not None:
                return self.phrase(phrases.ANSWER_SCALE_LABELLED, low=low, high=high,
                                   low_label=step.min_label.get(self.lang), high_label=step.max_label.get(self.lang))
            case StepType.SCALE:
                return self.phrase(phrases.ANSWER_SCALE, low=low, high=high)
            case StepType.NUMBER if step.unit is not None:
                return self.phrase(phrases.ANSWER_NUMBER_UNIT, low=low, high=high, unit=step.unit.get(self.lang))
            case StepType.NUMBER:
                return self.phrase(phrases.ANSWER_NUMBER, low=low, high=high)
            case StepType.YESNO:
                return self.phrase(phrases.ANSWER_YESNO)
            case _:
                return self.phrase(phrases.ANSWER_TEXT, max_length=step.max_length)

    def prompt(self, flow: Flow, run: Run, step: Step) -> Prompt:
        choices: Sequence[PromptChoice] = ()
        list_choices = True
        if step.type is StepType.CHOICE:
            choices = [PromptChoice(str(c.value), Literal(c.label.get(self.lang))) for c in step.choices]
        elif step.type is StepType.YESNO:
            choices = [PromptChoice("1", self.phrase(phrases.YES)), PromptChoice("0", self.phrase(phrases.NO))]
        elif step.type is StepType.SCALE and step.minimum is not None and step.maximum is not None:
            choices = [PromptChoice(str(v), Literal(str(v))) for v in range(int(step.minimum), int(step.maximum) + 1)]
            list_choices = False
        return Prompt(flow.id, flow.version, run.seq, step.id, tuple(choices), list_choices)


def _num(value: float | None) -> int | float:
    if value is None:
        return 0
    return int(value) if float(value).is_integer() else value


def _numeric(run: Run) -> dict[str, float]:
    """Numeric answers on the path actually taken (an answer undone by BACK is not on it)."""
    on_path = set(run.trail)
    return {k: float(a.value) for k, a in run.answers.items() if k in on_path and not isinstance(a.value, str)}
