/** The RabbitMQ adapter: amqplib (loaded lazily) and the management HTTP API. Imports only src/common. */
export * from './amqp-codec.js';
export * from './connection.js';
export * from './management.js';
export * from './source.js';
export * from './sink.js';
export * from './definitions.js';
