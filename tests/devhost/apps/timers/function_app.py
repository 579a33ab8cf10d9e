"""Timer sample app for the devhost tests."""

import threading
import time

import azure.functions as func

app = func.FunctionApp()
RUNS: dict[str, list[bool]] = {"startup": [], "fast": [], "slow": []}
ACTIVE = {"slow": 0, "max_slow": 0}
LOCK = threading.Lock()


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
def startup(timer: func.TimerRequest) -> None:
    RUNS["startup"].append(timer.past_due)


@app.timer_trigger(schedule="%FAST_SCHEDULE%", arg_name="timer")
async def fast(timer: func.TimerRequest) -> None:
    RUNS["fast"].append(timer.past_due)


@app.timer_trigger(schedule="*/1 * * * * *", arg_name="timer")
def slow(timer: func.TimerRequest) -> None:
    with LOCK:
        ACTIVE["slow"] += 1
        ACTIVE["max_slow"] = max(ACTIVE["max_slow"], ACTIVE["slow"])
    time.sleep(2.2)
    with LOCK:
        ACTIVE["slow"] -= 1
    RUNS["slow"].append(timer.past_due)
