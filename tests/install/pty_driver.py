#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal and answers its prompts, for the installer's tests.

Usage: pty_driver.py STEPS.json TRANSCRIPT -- COMMAND [ARG...]

STEPS.json is a list of steps, each {"expect": TEXT, "send": TEXT, "hidden": BOOL} (only "expect"
is required). For each step the driver reads the terminal's output until TEXT appears after the
previous match, then types SEND. With "hidden": true it first waits until the program has switched the terminal's echo off
(as `read -s` does), so a secret is never typed while echo is still on. Nothing sleeps blindly:
every wait reads output or polls the terminal's state until a deadline.

Everything the program printed is written to TRANSCRIPT. The driver exits with the program's exit
code, or with 90 if a step timed out (after killing the program's process group).
"""

import json
import os
import pty
import select
import signal
import sys
import termios
import time

STEP_TIMEOUT = 30.0
# The installer itself gives the gateway 30 s to come up.
EXIT_TIMEOUT = 35.0


class Session:
    def __init__(self, command):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execvp(command[0], command)
            finally:
                os._exit(127)
        self.output = bytearray()
        self.cursor = 0
        self.status = None

    def pump(self, timeout):
        """Reads what arrives within `timeout` seconds: the number of bytes, or None at the end."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return 0
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:
            return None
        if not chunk:
            return None
        self.output.extend(chunk)
        return len(chunk)

    def reap(self):
        """Records the exit status if the program has ended; returns whether it has."""
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status is not None

    def expect(self, text):
        needle = text.encode()
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            found = self.output.find(needle, self.cursor)
            if found >= 0:
                self.cursor = found + len(needle)
                return
            if time.monotonic() > deadline:
                self.fail(f"timed out after {STEP_TIMEOUT} s waiting for {text!r}")
            if self.pump(0.1) is None and self.reap():
                self.fail(f"the program ended (status {self.status}) before printing {text!r}")

    def wait_for_echo_off(self):
        deadline = time.monotonic() + STEP_TIMEOUT
        while termios.tcgetattr(self.fd)[3] & termios.ECHO:
            if time.monotonic() > deadline:
                self.fail("timed out waiting for the program to turn terminal echo off")
            self.pump(0.01)

    def send(self, text):
        if text:
            os.write(self.fd, text.encode())

    def finish(self):
        """Reads until the program has exited and its output is drained; returns the exit code."""
        deadline = time.monotonic() + EXIT_TIMEOUT
        while True:
            if self.pump(0.1) is None or self.reap():
                break
            if time.monotonic() > deadline:
                self.fail(f"the program did not exit within {EXIT_TIMEOUT} s")
        # Whatever the program wrote just before exiting is still buffered in the terminal.
        while self.pump(0.05):
            pass
        while not self.reap():
            if time.monotonic() > deadline:
                self.fail(f"the program did not exit within {EXIT_TIMEOUT} s")
            time.sleep(0.01)
        return self.status

    def fail(self, message):
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except OSError:
            pass
        tail = self.output[-3000:].decode(errors="replace")
        sys.stderr.write(f"pty_driver: {message}\n--- output so far (tail) ---\n{tail}\n")
        save_transcript(self)
        sys.exit(90)


transcript_path = None


def save_transcript(session):
    with open(transcript_path, "wb") as out:
        out.write(session.output)


def main():
    global transcript_path
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    with open(sys.argv[1]) as steps_file:
        steps = json.load(steps_file)
    transcript_path = sys.argv[2]
    session = Session(sys.argv[4:])
    for step in steps:
        session.expect(step["expect"])
        if step.get("hidden"):
            session.wait_for_echo_off()
        session.send(step.get("send", ""))
    status = session.finish()
    save_transcript(session)
    sys.exit(status)


if __name__ == "__main__":
    main()
