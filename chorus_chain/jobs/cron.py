"""rq cron configuration: `rq cron chorus_chain/jobs/cron.py --url $REDIS_URL` (the `clock` process of the Procfile)."""
from rq import cron

from chorus_chain.jobs import periodic
QUEUE_NAME = "sweeps"

cron.register(periodic.dispatch_pending_outbox, QUEUE_NAME, interval=60)
cron.register(periodic.sweep_deadlines, QUEUE_NAME, interval=300)
