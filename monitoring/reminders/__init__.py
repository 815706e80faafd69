"""Reminders (docs/domain.md section 7): a row first, a Celery message second.

- `planner`: asks the rules engine what each patient needs and inserts the missing rows.
- `dispatch`: claims due rows and enqueues one task per id after commit; re-claims stuck rows.
- `sender`: the task body: re-checks the row, sends the email, records the attempt.
- `timing`: the send instant (clinic send hour, quiet hours, daylight saving).
- `emails`, `signing`, `ical`, `digest`: the messages, the patient links, the calendar feed and
  the staff digest.

See docs/reminders.md for the state machine and the fault analysis.
"""
