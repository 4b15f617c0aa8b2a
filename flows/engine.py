"""The pure flow engine: advance(flows, state, input, now) -> Outcome(state, effects).

No I/O, no clock, no randomness, no globals: the same arguments always give the same outcome, so a test can
replay a 12-week programme in a second. Every input gets at least one message back (never silence), and a
step cap stops a badly written flow that would otherwise loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from flows import companion, crisis_reply, for_coach, human, phrases
from flows.conditions import Comparison
from flows.effects import (
    CancelTimer,
    ConsentGiven,
    DataValue,
    Effect,
    Escalate,
    Heard,
    LanguageChanged,
    Literal,
    Milestone,
    Part,
    Phrase,
    Prompt,
    PromptChoice,
    RecordAnswer,
    RecordScore,
    RetractAnswer,
    RunChange,
    RunEvent,
    ScheduleTimer,
    Send,
)
from flows.inputs import (
    Command,
    Due,
    Input,
    ReleaseHold,
    RemindersOn,
    RequireConsent,
    Resume,
    SetLanguage,
    StartFlow,
    Text,
    TimerFired,
)
from flows.model import END, Flow, FlowLibrary, Step, StepType
from flows.parsing import (
    Accepted,
    Keyword,
    KeywordInput,
    Rejected,
    Rejection,
    match_keyword,
    match_programme_keyword,
    parse_answer,
    parse_yes_no,
)
from flows.risk import SAFETY_CHECK, TermMatch, highest, rank
from flows.scoring import scored
from flows.state import OFFER_LAPSES, Answer, Run, State

MAX_TRANSITIONS = 200  # steps one input may move through before the flow is judged runaway
MAX_OFFER_REPEATS = 2
TRIGGER_TEXT_LIMIT = 1000  # characters of a risky message kept with its escalation
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
    elif isinstance(inp, ReleaseHold):
        turn.release_hold()
    elif isinstance(inp, Due):
        companion.on_due(turn, inp)
    elif isinstance(inp, Command):
        turn.on_command(inp.text)
    elif isinstance(inp, RemindersOn):
        companion.reminders_on(turn)
    elif isinstance(inp, RequireConsent):
        if flows.consent is not None and state.consent_given != flows.consent.version:
            turn.state = replace(turn.state, consent_needed=flows.consent.version)
    else:
        turn.on_timer(inp)
    return Outcome(turn.state, tuple(turn.effects))


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

    def hear(self, outcome: str, **detail: DataValue) -> None:
        """What became of the person's message, kept with it in the inbox (flows/effects.py `Heard`)."""
        self.effects.append(Heard(outcome, detail))

    def phrase(self, msgid: str, **params: str | int | float) -> Phrase:
        return Phrase(msgid, params)

    def yes_no(self) -> tuple[PromptChoice, ...]:
        """Ja/Nej buttons; typing 1/0 or ja/nej works the same."""
        return PromptChoice("1", self.phrase(phrases.YES)), PromptChoice("0", self.phrase(phrases.NO))

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
        if run.flow_id == SAFETY_CHECK and change is not RunChange.COMPLETED:
            self.restore_suspended(paused=True, announce=False)  # the questionnaire is never lost

    def release_hold(self) -> None:
        """A coach lets routine flows start again; a lingering offer of the safety check is withdrawn."""
        self.state = replace(self.state, hold=False)
        crisis_reply.forget(self)  # the escalation is dealt with: a new signal gets the full block again
        if self.state.offering_check:
            self.state = replace(self.state, offered_at=None, offer_repeats=0)
            self.restore_suspended(paused=True, announce=False)

    # -- inputs --------------------------------------------------------------------------------------------

    def close_stale_run(self, tell: bool = True) -> bool:
        """End a run that has expired or whose flow is gone, and say so (once). True if it did."""
        run = self.state.run
        if self.state.expired_unseen:  # the expiry timer closed it while the person was away
            self.state = replace(self.state, expired_unseen=False)
            if tell:
                self.say(self.phrase(phrases.EXPIRED))
                return True
        if run is None:
            return False
        flow = self.flow_of(run)
        if flow is None:
            self.end_run(run, RunChange.FAILED)
            if tell:
                self.say(self.phrase(phrases.FLOW_BROKEN))
            return True
        if _expired(flow, run, self.now):
            self.end_run(run, RunChange.EXPIRED)
            if tell:
                self.say(self.phrase(phrases.EXPIRED))
                if self.state.run is not None:  # the questionnaire that waited for the safety check is back
                    self.say(self.phrase(phrases.STILL_PAUSED))
            return True
        return False

    def on_text(self, text: str) -> None:
        hit = self.flows.risk_terms.scan(text)
        if hit is not None:  # before anything else: the person is answered and a human is told
            self.hear("risk", level=hit.level)
            self.escalate(hit.level, "text", text_trigger(hit, text))
        offered = human.take_resume_offer(self)
        keyword = match_keyword(text)
        if keyword is not None and keyword.keyword is Keyword.CONTACT:  # a human, whatever was being asked
            human.contact(self)
            return
        if self.close_stale_run():
            if hit is not None:
                self.offer_check()
            elif for_coach.must_read(text, None):  # words after a long absence: the coach reads them
                human.tell_coach(self)
            return
        if self.state.consent_needed is not None:
            self.answer_consent(text)
            return
        if self.state.offering_check:
            self.answer_offer(text, hit)
            return
        if keyword is not None:
            self.hear("keyword", keyword=keyword.keyword.value)
            self.on_keyword(keyword)
            return
        if offered is not None and hit is None and human.answer_resume_offer(self, text, offered):
            return
        run = self.state.run
        programme_word = match_programme_keyword(text) if hit is None else None
        if programme_word is not None and not self.accepts(run, text):  # an answer stays an answer
            self.hear("keyword", keyword=programme_word.word.value)
            companion.on_keyword(self, programme_word, " ".join(text.split()).upper())
            return
        if run is None:
            if hit is not None:
                self.offer_check()
            elif for_coach.must_read(text, None):
                human.tell_coach(self)
            else:
                self.hear("no_questionnaire")
                self.say(self.phrase(phrases.NO_RUN))
            return
        if run.paused:
            flow = self.flow_of(run)
            step = flow.step(run.step_id) if flow else None
            if hit is None and step is not None and step.is_question and isinstance(parse_answer(step, text), Accepted):
                run = replace(run, paused=False)  # an answer to the question they paused on: take it
                self.set_run(run)
                self.event(RunChange.RESUMED, run)
            elif hit is not None:
                self.offer_check()
                return
            elif for_coach.must_read_on_pause(text, step):  # words, but not a try at the question they left
                human.tell_coach(self)
                human.offer_to_go_on(self, run)
                return
            else:
                self.hear("resumed")
                self.resume(run)
                return
        self.on_answer(run, text, hit)

    def on_command(self, text: str) -> None:
        """A programme button: its keyword, never an answer to the open question (even a free-text one)."""
        word = match_programme_keyword(text)
        if word is None or self.state.consent_needed is not None or self.state.offering_check:
            self.on_text(text)  # not a programme word, or the terms or the safety offer come first
            return
        self.hear("command", keyword=word.word.value)
        companion.on_keyword(self, word, " ".join(text.split()).upper())

    def accepts(self, run: Run | None, text: str) -> bool:
        """Whether `text` is a valid answer to the question the person is on (not paused)."""
        if run is None or run.paused:
            return False
        flow = self.flow_of(run)
        step = flow.step(run.step_id) if flow else None
        return step is not None and step.is_question and isinstance(parse_answer(step, text), Accepted)

    def on_resume(self) -> None:
        if self.state.consent_needed is not None:
            self.ask_consent()
            return
        if self.close_stale_run():
            return
        run = self.state.run
        if run is None:
            self.say(self.phrase(phrases.HELP_NO_RUN))
        elif self.state.hold and run.flow_id != SAFETY_CHECK:  # no routine questions until a coach says so
            if not run.paused:
                run = replace(run, paused=True)
                self.set_run(run)
                self.event(RunChange.PAUSED, run)
            self.say(self.phrase(phrases.STILL_PAUSED))
        else:
            self.resume(run)

    def on_timer(self, timer: TimerFired) -> None:
        run = self.state.run
        if run is None or timer.key != run.timer_key:
            return  # a timer of a run that has already ended: nothing to do
        flow = self.flow_of(run)
        if flow is None or _expired(flow, run, self.now):
            self.end_run(run, RunChange.EXPIRED)
            self.state = replace(self.state, expired_unseen=True)  # said when the person next writes

    def start(self, flow_id: str) -> bool:
        """Start a flow; False when it was not (unknown, or refused while the safety path comes first)."""
        flow = self.flows.latest(flow_id)
        if flow is None:
            self.say(self.phrase(phrases.UNKNOWN_FLOW))
            return False
        if self.state.consent_needed is not None and flow_id != SAFETY_CHECK:
            self.state = replace(self.state, pending_flow=flow_id)  # started once the terms are accepted
            self.ask_consent()
            return True
        offered = self.state.offered_at
        busy = (offered is not None and self.now - offered < OFFER_LAPSES) or (
            self.state.run is not None and self.state.run.flow_id == SAFETY_CHECK)
        if flow_id != SAFETY_CHECK and (self.state.hold or busy):
            self.effects.append(RunEvent(RunChange.REFUSED, 0, flow.id, flow.version))  # the safety path comes first
            return False
        self.close_stale_run(tell=False)
        if offered is not None and flow_id != SAFETY_CHECK:  # a lapsed offer: withdrawn, nothing lost
            self.state = replace(self.state, offered_at=None, offer_repeats=0)
            self.restore_suspended(paused=True, announce=False)
        if self.state.run is not None:
            self.end_run(self.state.run, RunChange.ABANDONED)
        seq = self.state.runs_started + 1
        run = Run(seq, flow.id, flow.version, step_id="", started_at=self.now)
        self.state = replace(self.state, runs_started=seq, run=run)
        self.event(RunChange.STARTED, run)
        if flow.expires_after is not None:
            self.effects.append(ScheduleTimer(run.timer_key, self.now + flow.expires_after))
        self.go(flow, run, flow.steps[0].id)
        return True

    # -- keywords ------------------------------------------------------------------------------------------

    def on_keyword(self, keyword: KeywordInput) -> None:
        run = self.state.run
        match keyword.keyword:
            case Keyword.LANGUAGE:
                self.switch_language(keyword.argument)
            case Keyword.HELP:
                self.say(self.phrase(phrases.HELP if run else phrases.HELP_NO_RUN), self.phrase(phrases.HELP_CONTACT))
                if run is None and self.flows.programme is not None:
                    self.say(self.phrase(phrases.HELP_PROGRAMME))
                if run is not None and run.paused:
                    self.say(self.phrase(phrases.STILL_PAUSED))
                elif run is not None:
                    self.set_run(replace(run, invalid_streak=0))
                    self.ask_again(run)
            case Keyword.PAUSE:
                if run is None and self.flows.programme is not None:  # perhaps they meant the reminders
                    self.say(self.phrase(phrases.NOTHING_TO_PAUSE),
                             self.phrase(phrases.PAUSE_DAYS_RANGE, max_days=companion.MAX_PAUSE_DAYS))
                elif run is None:
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
                if run is None and self.flows.programme is not None:
                    companion.stop_reminders(self)
                elif run is None:
                    self.say(self.phrase(phrases.NOTHING_TO_STOP))
                else:
                    self.end_run(run, RunChange.STOPPED)
                    self.say(self.phrase(phrases.STOPPED))
                    if self.state.run is not None:  # the questionnaire set aside for the safety check
                        self.say(self.phrase(phrases.STILL_PAUSED))
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
        leaving = run.step_id
        if leaving in run.answers and leaving not in run.trail:  # answered before, now off the path
            self.effects.append(RetractAnswer(run.seq, leaving))
            run = replace(run, answers={k: v for k, v in run.answers.items() if k != leaving})
        run = replace(run, step_id=previous, trail=run.trail[:-1], invalid_streak=0)
        self.set_run(run)
        step = flow.step(previous)
        answer = run.answers.get(previous)
        if step is not None and answer is not None:
            self.say(self.phrase(phrases.BACK_TO, answer=self.describe_answer(step, answer)))
            self.ask(flow, run, step)

    def describe_answer(self, step: Step, answer: Answer) -> str | int | float:
        if step.type is StepType.CHOICE:
            label = next((c.label.get(self.lang) for c in step.choices if c.value == answer.value), "")
            return f"{answer.value} ({label})" if label else str(answer.value)
        if step.type is StepType.YESNO:
            return answer.raw
        return answer.value  # a number is formatted in the person's locale when rendered

    # -- answering -----------------------------------------------------------------------------------------

    def on_answer(self, run: Run, text: str, hit: TermMatch | None = None) -> None:
        flow = self.flow_of(run)
        step = flow.step(run.step_id) if flow else None
        if flow is None or step is None or not step.is_question:
            self.end_run(run, RunChange.FAILED)
            self.say(self.phrase(phrases.FLOW_BROKEN))
            return
        interrupt = hit is not None and flow.id != SAFETY_CHECK
        result = parse_answer(step, text)
        if isinstance(result, Rejected):
            if interrupt:
                self.offer_check()
            elif hit is not None:  # in the safety check: heard and answered; the question again, not "not understood"
                self.ask(flow, run, step)
            elif for_coach.must_read(text, step):
                human.tell_coach(self)
                human.offer_to_go_on(self, run)
            else:
                self.hear("not_understood", flow_id=flow.id, item_id=step.id, reason=result.reason.value)
                self.reprompt(flow, run, step, result.reason)
            return
        assert isinstance(result, Accepted)
        self.hear("answer", flow_id=flow.id, item_id=step.id)
        raw = text.strip()
        self.effects.append(RecordAnswer(run.seq, flow.id, flow.version, step.id, result.value, raw))
        run = replace(run.answered(step.id, Answer(result.value, raw)), last_at=self.now)
        level = highest([rule.level for rule in flow.risk_rules if rule.condition.holds(self.lookup(flow, run))])
        if level is not None and rank(level) > rank(run.risk_level):
            # inside the safety check the full reply is given once, and again only when the level becomes high
            reply = flow.id != SAFETY_CHECK or run.risk_level is None or level == "high"
            run = replace(run, risk_level=level)
            kind = "safety_check" if flow.id == SAFETY_CHECK else "item"
            self.escalate(level, kind, {"flow_id": flow.id, "flow_version": flow.version, "item_id": step.id,
                                        "answer": result.value, "raw_text": raw[:1000]}, reply=reply)
            interrupt = flow.id != SAFETY_CHECK
        run = companion.raise_tasks(self, flow, run)
        self.set_run(run)
        target = self.next_step(flow, run, step)
        if not interrupt:
            self.go(flow, run, target)
            return
        if target == END:
            self.finish(flow, run, closing_sent=True)
        else:
            self.set_run(replace(run, step_id=target))  # carried on from here after the safety check
        self.offer_check()

    # -- consent --------------------------------------------------------------------------------------------

    def ask_consent(self) -> None:
        terms = self.flows.consent
        if terms is None:
            self.state = replace(self.state, consent_needed=None)
            return
        self.say(Literal(terms.text.get(self.lang)), self.phrase(phrases.CONSENT_QUESTION),
                 prompt=Prompt("consent", 0, 0, terms.version, self.yes_no()))

    def answer_consent(self, text: str) -> None:
        keyword = match_keyword(text)
        kind = keyword.keyword if keyword is not None else None
        answer = parse_yes_no(text)
        self.hear("consent", answer="yes" if answer == 1 else "no" if answer == 0 else "unclear")
        if answer == 1:
            version = self.state.consent_needed or ""
            self.effects.append(ConsentGiven(version))
            pending = self.state.pending_flow
            self.state = replace(self.state, consent_needed=None, pending_flow=None, consent_given=version)
            self.say(self.phrase(phrases.CONSENT_THANKS))
            if pending is not None:
                self.start(pending)
        elif answer == 0 or kind is Keyword.STOP:
            self.say(self.phrase(phrases.CONSENT_DECLINED))
            self.effects.append(Milestone("consent_declined", self.state.consent_needed or ""))  # on the coach's page
        elif kind is Keyword.LANGUAGE:
            self.switch_language(keyword.argument if keyword else None)
            self.ask_consent()
        else:
            if kind is None and for_coach.must_read(text, None):  # a question about the terms: a human answers
                human.tell_coach(self)
            self.ask_consent()

    # -- the safety path -----------------------------------------------------------------------------------

    def escalate(self, level: str, kind: str, trigger: dict[str, str | int | float], reply: bool = True) -> None:
        self.effects.append(Escalate(level, kind, trigger))
        if reply:
            crisis_reply.reply(self, level)  # the full block once, then a pointer to it for an hour
        if level == "high":
            self.state = replace(self.state, hold=True)

    def offer_check(self) -> None:
        """Set the questionnaire aside and offer the safety check (unless the person is already in it)."""
        run = self.state.run
        if (run is not None and run.flow_id == SAFETY_CHECK) or self.flows.latest(SAFETY_CHECK) is None:
            return
        if run is not None:
            older = self.state.suspended
            if older is not None:  # one questionnaire can wait; an older one is ended, never silently lost
                self.event(RunChange.ABANDONED, older)
                self.effects.append(CancelTimer(older.timer_key))
            self.event(RunChange.SUSPENDED, run)
            self.state = replace(self.state, run=None, suspended=run)
        self.state = replace(self.state, offered_at=self.state.offered_at or self.now)
        self.say(self.phrase(phrases.OFFER_CHECK), prompt=Prompt(SAFETY_CHECK, 0, 0, "offer", self.yes_no()))

    def answer_offer(self, text: str, hit: TermMatch | None) -> None:
        keyword = match_keyword(text)
        kind = keyword.keyword if keyword is not None else None
        answer = parse_yes_no(text)
        self.hear("safety_offer", answer="yes" if answer == 1 else "no" if answer == 0 else "unclear")
        if answer == 1:
            self.state = replace(self.state, offered_at=None, offer_repeats=0)
            self.start(SAFETY_CHECK)
            return
        declined = answer == 0 or kind in (Keyword.STOP, Keyword.PAUSE, Keyword.RESUME, Keyword.BACK)
        if kind is Keyword.LANGUAGE:
            self.switch_language(keyword.argument if keyword else None)
        elif not declined and self.state.offer_repeats >= MAX_OFFER_REPEATS:
            declined = True  # no clear answer after repeating the offer: do not keep asking
        if declined:
            self.state = replace(self.state, offered_at=None, offer_repeats=0)
            self.say(self.phrase(phrases.CHECK_DECLINED))
            if kind in (Keyword.RESUME, Keyword.BACK):  # "let's go on": straight back to the questionnaire
                self.restore_suspended()
            else:  # a clear no is asked "go on now?"; anything else leaves it paused
                self.restore_suspended(paused=answer != 0, ask=answer == 0)
            return
        if hit is None and for_coach.must_read(text, None):  # words, not an answer to the offer: the coach reads them
            human.tell_coach(self)
        self.state = replace(self.state, offer_repeats=self.state.offer_repeats + 1)
        self.offer_check()

    def restore_suspended(self, paused: bool = False, announce: bool = True, ask: bool = False) -> None:
        """Bring back the questionnaire set aside for the safety check, where it was; `ask`: paused, with "go on
        now?" (after the check, never straight to the next question).

        Under a hold (high risk) it comes back paused: no routine questions until a coach says so."""
        run = self.state.suspended
        if run is None:
            return
        self.state = replace(self.state, suspended=None)
        flow = self.flow_of(run)
        if flow is None:
            self.set_run(run)
            self.end_run(run, RunChange.FAILED)
            return
        paused = paused or self.state.hold or ask
        run = replace(run, paused=paused)
        self.set_run(run)
        self.event(RunChange.RESUMED if not paused else RunChange.PAUSED, run)
        if ask:
            human.offer_to_go_on(self, run, questionnaire=True)
        elif paused:
            if announce:
                self.say(self.phrase(phrases.STILL_PAUSED))
        else:
            self.say(self.phrase(phrases.RESUMED))
            self.go(flow, run, run.step_id)

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

    def lookup(self, flow: Flow, run: Run) -> Callable[[Comparison], float | None]:
        """Values for conditions: answers on the path taken, and complete scores."""
        numeric = _numeric(run)

        def value(c: Comparison) -> float | None:
            if c.is_score:
                found = scored(flow, numeric).get(c.name)
                return None if found is None else found[0]
            return numeric.get(c.ref)

        return value

    def next_step(self, flow: Flow, run: Run, step: Step) -> str:
        lookup = self.lookup(flow, run)
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
        if flow.id == SAFETY_CHECK:
            self.restore_suspended(ask=True)
        companion.after_completion(self, flow, run, _numeric(run))

    # -- asking --------------------------------------------------------------------------------------------

    def ask_again(self, run: Run) -> None:
        flow = self.flow_of(run)
        step = flow.step(run.step_id) if flow else None
        if flow is not None and step is not None and step.is_question:
            self.ask(flow, run, step)
        elif flow is not None:  # stopped before a message step (set aside by the safety path): carry on
            self.go(flow, run, run.step_id)

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
            choices = self.yes_no()
        elif step.type is StepType.SCALE and step.minimum is not None and step.maximum is not None:
            choices = [PromptChoice(str(v), Literal(str(v))) for v in range(int(step.minimum), int(step.maximum) + 1)]
            list_choices = False
        return Prompt(flow.id, flow.version, run.seq, step.id, tuple(choices), list_choices)


def text_trigger(hit: TermMatch, text: str) -> dict[str, str | int | float]:
    """What a word-list escalation records: the phrase that matched and the message (capped)."""
    return {"matched": hit.phrase, "text": text[:TRIGGER_TEXT_LIMIT]}


def _expired(flow: Flow, run: Run, now: datetime) -> bool:
    return flow.expires_after is not None and now - run.started_at >= flow.expires_after


def _num(value: float | None) -> int | float:
    if value is None:
        return 0
    return int(value) if float(value).is_integer() else value


def _numeric(run: Run) -> dict[str, float]:
    """Numeric answers on the path actually taken (an answer undone by BACK is not on it)."""
    on_path = set(run.trail)
    return {k: float(a.value) for k, a in run.answers.items() if k in on_path and not isinstance(a.value, str)}
