/**
 * The AMQP 0-9-1 frame layout (section 4.2.3 of the specification): a frame is its type, its
 * channel and its payload size, the payload, and an end octet. What the frame reader of backup
 * consumers (frame-reader.ts) and the frames of a restore's publishes (publish-frames.ts) share.
 */

export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_END = 0xce;
/** A frame's type (1), channel (2) and payload size (4). */
export const FRAME_PREFIX = 7;
/** The prefix and the end octet around a frame's payload. */
export const FRAME_OVERHEAD = FRAME_PREFIX + 1;
/** A content header's payload: class id (2), weight (2), body size (8), then flags and properties. */
export const HEADER_FIXED = 12;
export const BASIC_CLASS = 60;
