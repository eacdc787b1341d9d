// Builds the kafkajs client from the relay's Kafka settings (TLS, SASL) and routes kafkajs' own log
// lines into the relay's logger.
import {
  type ISocketFactory,
  Kafka,
  type KafkaConfig,
  type logCreator,
  logLevel,
  type SASLOptions,
} from "kafkajs";
import type { KafkaSettings } from "../../src/config.ts";
import type { Logger } from "../../src/logger.ts";

function kafkaLogCreator(logger: Logger): logCreator {
  const log = logger.child({ component: "kafkajs" });
  return () =>
    ({ namespace, level, log: entry }) => {
      const { message, ...extra } = entry;
      const fields = { namespace, ...extra };
      // kafkajs reports routine retries (coordinator loading, rebalances) as ERROR; they are warnings
      // for the relay, which retries or redelivers on its own.
      if (level === logLevel.ERROR || level === logLevel.WARN) log.warn(fields, message);
      else if (level === logLevel.INFO) log.info(fields, message);
      else log.debug(fields, message);
    };
}

function saslOptions(sasl: NonNullable<KafkaSettings["sasl"]>): SASLOptions {
  const credentials = { username: sasl.username, password: sasl.password.reveal() };
  switch (sasl.mechanism) {
    case "plain":
      return { mechanism: "plain", ...credentials };
    case "scram-sha-256":
      return { mechanism: "scram-sha-256", ...credentials };
    case "scram-sha-512":
      return { mechanism: "scram-sha-512", ...credentials };
  }
}

/**
 * `socketFactory` replaces how connections are opened (tests route every broker connection, the
 * advertised ones included, through a proxy they can stop).
 */
export function createKafka(
  settings: KafkaSettings,
  logger: Logger,
  options: { readonly socketFactory?: ISocketFactory } = {},
): Kafka {
  const config: KafkaConfig = {
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    ...(options.socketFactory === undefined ? {} : { socketFactory: options.socketFactory }),
  };
  if (settings.ssl !== false) {
    config.ssl = {
      rejectUnauthorized: settings.ssl.rejectUnauthorized,
      ...(settings.ssl.ca === undefined ? {} : { ca: [settings.ssl.ca] }),
      ...(settings.ssl.cert === undefined ? {} : { cert: settings.ssl.cert }),
      ...(settings.ssl.key === undefined ? {} : { key: settings.ssl.key.reveal() }),
    };
  }
  if (settings.sasl !== undefined) config.sasl = saslOptions(settings.sasl);
  return new Kafka(config);
}
