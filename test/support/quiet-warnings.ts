// kafkajs schedules timers with negative delays on Node 23 and later; Node clamps them to 1 ms and
// prints a TimeoutNegativeWarning each time. The tests' own Kafka clients would fill the output with
// it, so this drops that one warning and prints every other process warning as usual.
process.removeAllListeners("warning");
process.on("warning", (warning) => {
  if (warning.name !== "TimeoutNegativeWarning") console.warn(warning);
});
