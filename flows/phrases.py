"""Every fixed sentence the bot says, as gettext message ids (English source, Danish first in the catalogs).

`N_` only marks a string for `pybabel extract -k N_`; translation happens when the loop renders a `Phrase`.
Params are filled with str.format after translation, numbers formatted by babel in the person's locale.
"""

from __future__ import annotations


def N_(msgid: str) -> str:
    """Mark a message id for extraction; returns it unchanged."""
    return msgid


# Asking
ANSWER_CHOICE = N_("Answer with the number in front of your answer.")
ANSWER_SCALE = N_("Answer with a whole number from {low} to {high}.")
ANSWER_SCALE_LABELLED = N_("Answer with a whole number from {low} ({low_label}) to {high} ({high_label}).")
ANSWER_NUMBER = N_("Answer with a number from {low} to {high}.")
ANSWER_NUMBER_UNIT = N_("Answer with a number from {low} to {high} ({unit}).")
ANSWER_YESNO = N_("Answer yes or no.")
ANSWER_TEXT = N_("Write your answer in your own words (at most {max_length} characters).")
YES = N_("Yes")
NO = N_("No")

# Re-prompts
NOT_UNDERSTOOD = N_("Sorry, I did not understand that answer.")
NOTHING_RECEIVED = N_("I did not receive an answer.")
TOO_LONG_FOR_ANSWER = N_("That message is too long to be an answer.")
TEXT_TOO_LONG = N_("Your answer is too long. Please keep it to at most {max_length} characters.")
ALLOWED_CHOICES = N_("Please answer with one of these numbers: {choices}.")
ALLOWED_RANGE = N_("Please answer with a whole number from {low} to {high}.")
ALLOWED_NUMBER = N_("Please answer with a number from {low} to {high}.")
ALLOWED_DECIMALS = N_("Please use at most {decimals} decimal(s).")
ALLOWED_YESNO = N_("Please answer yes or no.")
STRUGGLING = N_(
    "It looks like this question is hard to answer here. You can write HELP for help, PAUSE to stop for now "
    "and continue later, or STOP to end this questionnaire."
)

# Keywords
HELP = N_(
    "You answer one question at a time. You can write at any time:\n"
    "BACK: change your previous answer\n"
    "PAUSE: stop for now and continue later\n"
    "CONTINUE: carry on after a pause\n"
    "LANGUAGE: switch between Danish and English\n"
    "STOP: end the questionnaire"
)
# The programme's words in HELP, one line (or two) per part, each shown only to a participant whose programme has it
# (flows/companion.py `has_content_for`); joined with line breaks in one message.
HELP_PROGRAMME = N_("You can also write:")
HELP_PROGRAMME_TRE = N_("TRE: log a TRE session\nMINE: see your TRE log")
HELP_PROGRAMME_DONE = N_("DONE 3: module 3 is done")
HELP_PROGRAMME_TIMES = N_("TIMES: change your exercise reminders")
HELP_PROGRAMME_REMINDERS = N_("PAUSE 7: no reminders for 7 days (START turns them on again)\nSTOP: no more reminders")
HELP_NO_RUN = N_(
    "You have no questionnaire open right now. You will get a message when there is something for you. "
    "Write LANGUAGE to switch between Danish and English."
)
BACK_AT_FIRST = N_("This is the first question, so there is no earlier answer to change.")
BACK_TO = N_("Let's go back. Your answer was: {answer}. You can send a new answer.")
PAUSED = N_("We will pause here. Your answers are saved. Write CONTINUE when you want to go on.")
# TRANSLATORS: to "ved ikke" / "don't know" at a question with answers to choose from
CLOSEST_ANSWER = N_("If you are not sure, choose the answer that comes closest to how it has been for you.")
STILL_PAUSED = N_("The questionnaire is paused. Write CONTINUE when you want to go on.")
# TRANSLATORS: under a high-risk hold: no routine questionnaire comes back until a coach has been in touch.
HELD_FOR_COACH = N_("The questionnaire waits until a coach has been in touch with you. You can keep writing here.")
RESUMED = N_("Welcome back. We continue where you left off.")
STOPPED = N_("You have stopped this questionnaire. The answers you gave are saved. Thank you.")
STOP_AGAIN_FOR_REMINDERS = N_("If you want no more reminders either, write STOP again.")
NOTHING_TO_PAUSE = N_("There is no questionnaire to pause right now.")
NOTHING_TO_STOP = N_("There is no questionnaire running right now.")
# TRANSLATORS: sent in the NEW language, so each catalog names its own language.
# TRANSLATORS: sent in the NEW language, so each catalog names its own language.
LANGUAGE_CHANGED = N_("I will write to you in English from now on.")
NO_RUN = N_("Thank you for your message. You have no questionnaire open right now. Write HELP to see what you can do.")

# Safety (suicide-risk signals). The crisis contacts between these come from the deployment's configuration.
SAFETY_HEARD = N_("Thank you for telling me. It is important, and you do not have to carry it alone.")
SAFETY_COACH = N_("A coach has been told and will contact you as soon as possible. You can keep writing here.")
OFFER_CHECK = N_("Would you answer a few short questions about how you are right now? It helps us help you. "
                 "Answer yes or no.")
CHECK_DECLINED = N_("That is completely all right. A coach will still contact you. You can write here at any time.")

# TRANSLATORS: instead of the crisis block again within the hour: the numbers were in a message just above.
SAFETY_POINTER = N_("Thank you for telling me. The numbers you can call are in my message a little further up. A coach "
                    "has been told.")

# Messages for a human (flows/human.py): words that are not an answer reach the coach; CONTACT asks for a call
MESSAGE_FOR_COACH = N_("Thank you for your message. I cannot answer it myself, so I have passed it on to your coach, "
                       "who will read it.")
# TRANSLATORS: {hours} are the coaches' office hours from the configuration, e.g. "Monday to Friday, 8:00-16:00".
COACH_HOURS = N_("Coaches read messages {hours}.")
COACH_HOURS_NOT_NOW = N_("That is not right now, so it may be a while before you hear from us.")
CONTACT_ASKED = N_("I have asked your coach to contact you.")
HELP_CONTACT = N_("Write CONTACT if you would like your coach to contact you.")
GO_ON_WITH_QUESTION = N_("Would you like to go on with the question now? Answer yes or no.")
GO_ON_WITH_QUESTIONNAIRE = N_("Would you like to go on with the questionnaire you were answering? Answer yes or no.")
GOING_ON = N_("Good. We go on where you left off.")
LATER = N_("That is fine. Write CONTINUE when you want to go on.")
# TRANSLATORS: office hours as {hours} above: {days}, then the times, e.g. "Monday to Friday, 8:00-16:00".
OFFICE_HOURS = N_("{days}, {start}-{end}")
# TRANSLATORS: a range of weekdays, e.g. "Monday to Friday".
OFFICE_DAYS = N_("{first} to {last}")

# To coaches (the safety path). Sent in the coach's language; {trigger} is the participant's own words.
LEVEL_HIGH = N_("high")
LEVEL_MODERATE = N_("moderate")
LEVEL_LOW = N_("low")
COACH_ALERT = N_("Risk alert #{id} ({level}) for participant {participant}, {opened}. What happened: {trigger}. "
                 "Reply OK {id} when you have taken it.")
COACH_REMINDER = N_("Not yet acknowledged: risk alert #{id} ({level}) for participant {participant}, {opened}. "
                    "What happened: {trigger}. Reply OK {id} when you have taken it.")
COACH_UNREACHABLE = N_("Participant {participant} can no longer be reached on {channel} (they blocked the bot or "
                       "opted out). Please contact them another way.")
COACH_HELP = N_("Commands: LIST (open alerts), SHOW <no.>, OK <no.> (acknowledge), CLOSE <no.> <what was done> "
                "(close with a note), RELEASE <no.> (allow routine questionnaires again).")
COACH_NONE_OPEN = N_("There are no open alerts.")
COACH_HELP_OVERVIEW = N_(
    "Your participants: PARTICIPANTS, PERSON <ref>, NOTE <ref> <text>, TASKS (open tasks), COMPLETED <task no.>.")
OVERVIEW_LINE = N_(
    "{ref}: week {week}, modules {modules}, PSS-10 {pss}, WHO-5 {who5}, tasks {open_tasks}, alerts {alerts}")
OVERVIEW_NONE = N_("You have no participants yet.")
OVERVIEW_UNKNOWN = N_("{ref} is not one of your participants.")
OVERVIEW_HEADER = N_("{ref} ({name}): started {start}, week {week}, coach {coach}, modules done: {modules}")
OVERVIEW_TRE = N_("TRE: sessions: {count}, a week: {per_week}, average change in tension: {change}")
OVERVIEW_NOTE = N_("Note {date} ({coach}): {text}")
OVERVIEW_NOTE_SAVED = N_("Note saved for {ref}.")
OVERVIEW_NOTE_NEEDED = N_("Write the note after the participant: NOTE <ref> <text>.")
OVERVIEW_TASKS_NONE = N_("No open tasks.")
OVERVIEW_TASK = N_("Task #{id} {ref}: {kind}{detail}, due {due}")
OVERVIEW_TASK_DONE = N_("Task #{id} is done.")
OVERVIEW_TASK_UNKNOWN = N_("There is no open task #{id} for your participants.")
TASK_CONSIDER_REFERRAL = N_("consider referral (PSS-10 worse than at baseline, or WHO-5 of 28 or less)")
TASK_CONSIDER_ENDING = N_("consider ending (PSS-10 below the entry criterion and better)")
TASK_ENTRY_CRITERION = N_("does not meet the entry criterion (screening score below the cut-off): talk with them "
                          "about whether the programme fits")
TASK_EVALUATE_MANUALLY = N_("evaluate week 4 by hand (a measurement is missing)")
TASK_WELLBEING_FALL = N_("well-being fell since the last check-in")
TASK_WAVE_MISSED = N_("a measurement was not answered")
TASK_TRE_CHECKIN = N_("check in after a TRE session (overwhelmed or more tense)")
TASK_MESSAGE_UNREAD = N_("a message was not read in time (MESSAGES)")
TASK_CONTACT_REQUEST = N_("wants to be contacted (CONTACT)")
TASK_APPOINTMENT_MISSED = N_("did not come to an appointment")
TASK_APPOINTMENT_MOVE = N_("asked to move an appointment (see Appointments)")
TASK_GROUP_SESSIONS_FULL = N_("no place in the cohort's group sessions: more members than the programme's max size")
# The coach's inbox (bot/messages.py): messages for a human, unread first
COACH_HELP_MESSAGES = N_("Messages from participants: MESSAGES (unread first; shown means read).")
COACH_HELP_FIND = N_("Find a person: FIND <name or phone number>.")
COACH_CONTACT = N_("Contact: {details}")
FIND_NONE = N_("Nobody you may see matches \"{query}\" (at least 3 letters, or a phone number).")
OVERVIEW_CONSENT_GIVEN = N_("Consent: given {date} (version {version})")
OVERVIEW_CONSENT_DECLINED = N_("Consent: declined {date}. The person has said no to the programme's terms.")
OVERVIEW_CONSENT_NONE = N_("Consent: not answered yet")
MESSAGES_NONE = N_("There are no messages from your participants.")
MESSAGE_UNREAD = N_("New #{id} {ref} ({name}), {when}, {channel}{where}: {text}")
MESSAGE_READ = N_("#{id} {ref} ({name}), {when}, {channel}{where}: {text} (read by {coach} {read})")
MESSAGE_WHERE = N_(" during {flow}")
COACH_LINE = N_("#{id} {level}, {status}, participant {participant}, opened {opened}{deadline}")
COACH_DEADLINE = N_(", acknowledge by {deadline}")
COACH_UNKNOWN = N_("There is no alert #{id}.")
COACH_ACKED = N_("Acknowledged #{id}. Close it with: CLOSE {id} <what was done>.")
COACH_ALREADY = N_("#{id} is already {status}.")
COACH_NOTE_NEEDED = N_("Closing needs a short note of what was done: CLOSE {id} <note>.")
COACH_CLOSED = N_("Closed #{id}. Routine questionnaires may start again for this participant.")
COACH_RELEASED = N_("Routine questionnaires may start again for the participant of #{id}.")
COACH_TAKE_FIRST = N_("Take #{id} first (OK {id}): routine questionnaires start again only once someone has it.")
COACH_ANSWERS = N_("Latest answers: {answers}")
COACH_SCORES = N_("Latest scores: {scores}")
STATUS_OPEN = N_("open")
STATUS_ACKNOWLEDGED = N_("acknowledged")
STATUS_CLOSED = N_("closed")

# SMS
SMS_UNKNOWN_SENDER = N_("Hello. This number does not know you, so I cannot help here. If you take part in a stress "
                        "programme, ask your coach to add your number.")
SMS_OPTED_OUT = N_("You will get no more text messages from us. Write START to get them again.")
SMS_INVITE = N_("Hello. You are now signed up for the stress programme's text messages. We will write when there "
                "is something for you. Write HELP for help and STOP if you want no more messages.")
# TRANSLATORS: the first SMS to someone enrolled with a phone and for Telegram; {link} is the Telegram invite link
# (keep a space after it, so the phone does not take the next word into the link), {until} its expiry, e.g.
# "20. december kl. 16.44".
SMS_INVITE_TELEGRAM = N_("Hello. You are now signed up for the stress programme. To get our messages on Telegram, "
                         "open this link on your phone: {link} It works until {until}. Until then we write to you "
                         "here. Write HELP for help and STOP if you want no more messages.")
SMS_OPTED_IN = N_("Welcome back. You will get our text messages again. Write STOP to stop them.")

# Telegram
TELEGRAM_WELCOME = N_("Welcome! You are now connected, and I will write to you here.")
TELEGRAM_UNKNOWN_USER = N_("Hello. I do not know you yet, so I cannot help here. If you take part in a stress "
                           "programme, open the link your coach sent you.")
TELEGRAM_CODE_INVALID = N_("This link has already been used or is no longer valid. Ask your coach for a new one.")
# TRANSLATORS: a short note shown on top of the chat when someone presses a button of an earlier question.
TELEGRAM_OLD_QUESTION = N_("That question has already been answered.")
# TRANSLATORS: descriptions in the Telegram command menu (/help, /pause, ...); at most a few words.
TELEGRAM_COMMAND_HELP = N_("Help and what you can write")
TELEGRAM_COMMAND_PAUSE = N_("Pause and continue later")
TELEGRAM_COMMAND_CONTINUE = N_("Continue after a pause")
TELEGRAM_COMMAND_STOP = N_("End the questionnaire")
TELEGRAM_COMMAND_LANGUAGE = N_("Switch between Danish and English")

# The terminal (console channel) only
CONSOLE_HINT = N_("Type your answer and press Enter. Ctrl-D ends the chat; your answers are saved.")

# Consent (the terms themselves come from the deployment's configuration)
CONSENT_QUESTION = N_("Do you agree to this? Answer yes or no.")
CONSENT_THANKS = N_("Thank you. You can withdraw your consent at any time by telling your coach.")
CONSENT_DECLINED = N_("That is completely all right. We will not ask you anything. If you change your mind, "
                      "write YES.")

# Lifecycle
EXPIRED = N_("The questionnaire you had started has closed because it was not finished in time. Thank you for the "
             "answers you gave.")
FINISHED = N_("Thank you for your answers. You have finished the questionnaire.")
UNKNOWN_FLOW = N_("Sorry, that questionnaire is not available right now.")
FLOW_BROKEN = N_("Sorry, something went wrong with this questionnaire. Your answers so far are saved, and we will "
                 "look into it.")
NOT_SAVED = N_("Sorry, your message could not be saved just now. Please send it again in a moment.")
SOMETHING_WENT_WRONG = N_("Sorry, something went wrong on our side. Please send your message again in a moment.")

# The programme: modules, reminders, measurements (flows/companion.py)
MODULE_NUDGE = N_("A reminder about module {number}: {title}. Write DONE {number} when you have worked through it.")
MODULE_DONE = N_("Well done! Module {number} is marked as done. You have finished {finished} of {total} modules.")
MODULE_ALREADY_DONE = N_("Module {number} was already marked as done.")
MODULE_WHICH = N_("Which module have you finished? Write DONE and its number, e.g. DONE 2.")
MODULE_NO_SUCH = N_("There is no module {number}. The modules are numbered 1 to {total}.")
DONE_BUTTON = N_("Done with module {number}")
TRE_BUTTON = N_("Log TRE")
WAVE_NEXT = N_("Thank you. Here comes the next questionnaire.")
WAVE_FINISHED = N_("Thank you, the measurement is complete.")
FINISH_FIRST = N_(
    "You are in the middle of a questionnaire. Answer it first, or write PAUSE, and then write {keyword} again.")
PAUSED_RUN_FIRST = N_(
    "You have a questionnaire on pause. Write CONTINUE to finish it or STOP to end it, then write {keyword} again.")
NOT_NOW_COACH = N_("That will have to wait a little: your coach will contact you first.")
REMINDERS_PAUSED = N_("You will get no reminders for the next {days} days. Write START to get them again sooner.")
REMINDERS_PAUSED_ONE_DAY = N_(
    "You will get no reminders until this time tomorrow. Write START to get them again sooner.")
REMINDERS_STOPPED = N_(
    "You will get no more reminders from me. Your answers are saved. Write START if you want the reminders again.")
REMINDERS_ON = N_("The reminders are on again.")
REMINDERS_ALREADY_ON = N_("The reminders are already on.")
PAUSE_DAYS_RANGE = N_("Write PAUSE and a number of days from 1 to {max_days}, e.g. PAUSE 7.")

# The TRE log history (flows/tre.py)
TRE_HISTORY_EMPTY = N_("You have not logged any TRE sessions yet. Write TRE after a session to log it.")
TRE_HISTORY_HEADER = N_("Your latest TRE sessions:")
TRE_HISTORY_LINE = N_("{date}: {minutes} min., tension {before} → {after}")
TRE_HISTORY_TOTALS = N_(
    "Sessions in all: {count}, on average {per_week} a week. Average change in tension per session: {change}.")
TRE_WEEK_SUMMARY = N_(
    "Your TRE week: sessions: {count}, minutes of tremoring: {minutes}, average change in tension: {change}.")

# Messages that did not get through (bot/undelivered.py, bot/overview.py): to the coach, never to the participant
COACH_CRISIS_NOT_DELIVERED = N_(
    "The crisis reply to participant {participant} has not got through on {channel} since {written} ({reason}). "
    "It is tried again until {until}. Please contact them another way now.")
COACH_CRISIS_GIVEN_UP = N_(
    "The crisis reply to participant {participant} could not be delivered on {channel} ({reason}), written "
    "{written}. Please contact them another way now.")
OVERVIEW_GIVEN_UP = N_("Not delivered ({channel}, {date}, given up: {reason}): {text}")

ALL: tuple[str, ...] = tuple(v for k, v in sorted(globals().items()) if k.isupper() and isinstance(v, str))

# Appointments (issue 15): reminders the day before and two hours before; the person confirms or asks to move it
APPOINTMENT_SCREENING = N_("A reminder: your screening talk is {when}.")
APPOINTMENT_GROUP = N_("A reminder: the group session is {when}.")
APPOINTMENT_COACHING = N_("A reminder: your coaching talk is {when}.")
APPOINTMENT_COUNSELLING = N_("A reminder: your counselling talk is {when}.")
APPOINTMENT_FOLLOW_UP = N_("A reminder: your follow-up talk is {when}.")
APPOINTMENT_KINDS = {  # an appointment's kind -> its reminder
    "screening": APPOINTMENT_SCREENING,
    "group": APPOINTMENT_GROUP,
    "coaching": APPOINTMENT_COACHING,
    "counselling": APPOINTMENT_COUNSELLING,
    "follow_up": APPOINTMENT_FOLLOW_UP,
}
APPOINTMENT_PLACE = N_("Place: {place}.")
APPOINTMENT_VIDEO = N_("Join by video: {link}")
APPOINTMENT_REPLY_HINT = N_("Write OK to confirm, or MOVE if you need another time.")
APPOINTMENT_CONFIRMED = N_("Thank you for confirming. See you {when}.")
APPOINTMENT_MOVE_ASKED = N_("Thank you. Your coach will contact you to find another time.")
APPOINTMENT_OK_BUTTON = N_("OK")
APPOINTMENT_MOVE_BUTTON = N_("Move it")

# A booked appointment cancelled or moved by a coach (bot/appointment_changes.py): the participant is told, kindly
APPOINTMENT_CANCELLED_SCREENING = N_("We are sorry: your screening talk {when} is cancelled.")
APPOINTMENT_CANCELLED_GROUP = N_("We are sorry: the group session {when} is cancelled.")
APPOINTMENT_CANCELLED_COACHING = N_("We are sorry: your coaching talk {when} is cancelled.")
APPOINTMENT_CANCELLED_COUNSELLING = N_("We are sorry: your counselling talk {when} is cancelled.")
APPOINTMENT_CANCELLED_FOLLOW_UP = N_("We are sorry: your follow-up talk {when} is cancelled.")
APPOINTMENT_CANCELLED_KINDS = {
    "screening": APPOINTMENT_CANCELLED_SCREENING,
    "group": APPOINTMENT_CANCELLED_GROUP,
    "coaching": APPOINTMENT_CANCELLED_COACHING,
    "counselling": APPOINTMENT_CANCELLED_COUNSELLING,
    "follow_up": APPOINTMENT_CANCELLED_FOLLOW_UP,
}
APPOINTMENT_CANCELLED_NEXT = N_("You do not need to do anything. Your coach will contact you if a new time is needed.")
APPOINTMENT_MOVED_SCREENING = N_("Please note: your screening talk has moved to {when}.")
APPOINTMENT_MOVED_GROUP = N_("Please note: the group session has moved to {when}.")
APPOINTMENT_MOVED_COACHING = N_("Please note: your coaching talk has moved to {when}.")
APPOINTMENT_MOVED_COUNSELLING = N_("Please note: your counselling talk has moved to {when}.")
APPOINTMENT_MOVED_FOLLOW_UP = N_("Please note: your follow-up talk has moved to {when}.")
APPOINTMENT_MOVED_KINDS = {
    "screening": APPOINTMENT_MOVED_SCREENING,
    "group": APPOINTMENT_MOVED_GROUP,
    "coaching": APPOINTMENT_MOVED_COACHING,
    "counselling": APPOINTMENT_MOVED_COUNSELLING,
    "follow_up": APPOINTMENT_MOVED_FOLLOW_UP,
}
