import { pino, type Logger as PinoLogger } from "pino";

/**
 * JSON logs on stdout. pino's `(fields, message)` signature is core's Logger interface, so the
 * same instance goes to the engine. Redaction is a safety net: core never logs secret values.
 */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stdout): PinoLogger {
  return pino(
    {
      level,
      base: { app: "imagepullsecret-patcher" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ["token", "password", "auth", "dockerconfigjson", "*.token", "*.password", "*.auth", "*.data", "data"],
        censor: "[redacted]",
      },
    },
    destination as pino.DestinationStream,
  );
}
