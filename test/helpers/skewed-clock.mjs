/**
 * Preloaded into a process the tests start (NODE_OPTIONS="--import <this file>") to set its
 * wall clock off by MQBAK_TEST_CLOCK_SKEW_MS milliseconds, as on a machine whose clock is wrong:
 * Date.now() and new Date() without arguments are shifted; timers and the monotonic clock are not.
 * The AWS SDK signs requests with that time, which is what an S3 server checks against its own.
 */
const skew = Number(process.env.MQBAK_TEST_CLOCK_SKEW_MS ?? '0');
if (!Number.isFinite(skew)) throw new Error(`MQBAK_TEST_CLOCK_SKEW_MS is not a number: ${process.env.MQBAK_TEST_CLOCK_SKEW_MS}`);
const RealDate = Date;
class SkewedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + skew);
    else super(...args);
  }
  static now() {
    return RealDate.now() + skew;
  }
}
globalThis.Date = SkewedDate;
