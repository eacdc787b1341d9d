// kafkajs schedules timers with negative delays on Node 23 and later; Node clamps them to 1 ms and
// prints a TimeoutNegativeWarning each time. The warning is harmless and would drown everything else.

/** Replaces Node's warning printer: every process warning but that one goes to `report`. */
export function reportWarningsExceptTimeoutNegative(report: (warning: Error) => void): void {
  process.removeAllListeners("warning");
  process.on("warning", (warning) => {
    if (warning.name !== "TimeoutNegativeWarning") report(warning);
  });
}
