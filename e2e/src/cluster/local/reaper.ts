// Kills the control plane when the process that started it dies, even by SIGKILL, so an interrupted
// test run leaves nothing behind. Runs detached: `node reaper.ts <ownerPid> <stateFile> <pid>...`.
import { rmSync } from "node:fs";

const [ownerArg, stateFile, ...pidArgs] = process.argv.slice(2);
const owner = Number(ownerArg);
const pids = pidArgs.map(Number);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killAll(signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(-pid, signal);
    } catch {
      /* gone */
    }
  }
}

const timer = setInterval(() => {
  if (pids.every((pid) => !alive(pid))) process.exit(0);
  if (alive(owner)) return;
  clearInterval(timer);
  killAll("SIGTERM");
  setTimeout(() => {
    killAll("SIGKILL");
    if (stateFile) rmSync(stateFile, { force: true });
    process.exit(0);
  }, 5000);
}, 500);
