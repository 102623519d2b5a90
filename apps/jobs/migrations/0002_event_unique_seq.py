"""One unique index on (job, seq) in place of (job, step, counter) plus (job, seq).

The new constraint goes in first, so an event is never without its uniqueness guarantee.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0001_initial"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="event",
            constraint=models.UniqueConstraint(fields=("job", "seq"), name="one_event_per_seq"),
        ),
        migrations.RemoveConstraint(
            model_name="event",
            name="one_event_per_counter",
        ),
        migrations.RemoveIndex(
            model_name="event",
            name="event_job_seq",
        ),
    ]
