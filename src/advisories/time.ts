/**
 * Dates, instants and ISO 8601 durations, all in UTC and all pure: nothing here reads the clock.
 * The risk engine replays decisions "as of" a date (research §5.1), so every time it uses is an
 * argument, and every time it prints is an ISO string made by `formatInstant`.
 */

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
// Date-times need an explicit zone (Z or ±hh:mm): a local time would make the output depend on
// the machine's TZ, which breaks "same inputs ⇒ same bytes".
const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Milliseconds since the epoch for a calendar date YYYY-MM-DD (its UTC midnight), if valid. */
export function parseDate(text: string): number | undefined {
  const m = DATE.exec(text);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(year, month - 1, day);
  const check = new Date(ms);
  // Date.UTC rolls 2003-02-30 over to March; a real calendar date round-trips.
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return undefined;
  return ms;
}

/**
 * Milliseconds since the epoch for an ISO date-time with a zone, or for a plain date (its UTC
 * midnight). Undefined if the text is neither.
 */
export function parseInstant(text: string): number | undefined {
  const date = parseDate(text);
  if (date !== undefined) return date;
  const m = INSTANT.exec(text);
  if (!m) return undefined;
  const day = parseDate(`${m[1]}-${m[2]}-${m[3]}`);
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6] ?? "0")];
  if (day === undefined || hour > 23 || minute > 59 || second > 59) return undefined;
  const fraction = Number(`0.${m[7] ?? "0"}`);
  let ms = day + ((hour * 60 + minute) * 60 + second) * 1000 + Math.floor(fraction * 1000);
  const zone = m[8] ?? "Z";
  if (zone !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    const offset = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
    ms -= sign * offset * 60_000;
  }
  return ms;
}

/** The canonical text of an instant: `2003-07-17T04:00:00.000Z`. */
export function formatInstant(ms: number): string {
  return new Date(ms).toISOString();
}

/** The calendar date of an instant, `2003-07-17`. */
export function formatDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** An ISO 8601 duration (PnYnMnWnDTnHnMnS), kept in its calendar parts. */
export interface Duration {
  readonly years: number;
  readonly months: number;
  readonly weeks: number;
  readonly days: number;
  readonly hours: number;
  readonly minutes: number;
  readonly seconds: number;
}

const DURATION =
  /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** Parses `P9M`, `P14D`, `PT4H`, `P1DT12H`; undefined for anything else (or a bare `P`/`PT`). */
export function parseDuration(text: string): Duration | undefined {
  const m = DURATION.exec(text);
  if (!m || text === "P" || text.endsWith("T")) return undefined;
  const n = (i: number): number => Number(m[i] ?? "0");
  return {
    years: n(1),
    months: n(2),
    weeks: n(3),
    days: n(4),
    hours: n(5),
    minutes: n(6),
    seconds: n(7),
  };
}

/**
 * `ms` plus a duration, in UTC. Years and months move the calendar (2003-04-24 + P9M =
 * 2004-01-24), clamped to the month's last day as ISO 8601 and java.time do; the rest is exact.
 */
export function addDuration(ms: number, duration: Duration): number {
  let result = ms;
  if (duration.years !== 0 || duration.months !== 0) {
    const date = new Date(ms);
    const totalMonths =
      date.getUTCFullYear() * 12 + date.getUTCMonth() + duration.years * 12 + duration.months;
    const year = Math.floor(totalMonths / 12);
    const month = totalMonths % 12;
    const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
    const day = Math.min(date.getUTCDate(), lastDay);
    result = Date.UTC(
      year,
      month,
      day,
      date.getUTCHours(),
      date.getUTCMinutes(),
      date.getUTCSeconds(),
      date.getUTCMilliseconds(),
    );
  }
  const exact =
    ((((duration.weeks * 7 + duration.days) * 24 + duration.hours) * 60 + duration.minutes) * 60 +
      duration.seconds) *
    1000;
  return result + exact;
}

/** `addDuration` for a duration given as text; throws on text that `parseDuration` refuses. */
export function addIsoDuration(ms: number, text: string): number {
  const duration = parseDuration(text);
  if (duration === undefined) throw new TypeError(`not an ISO 8601 duration: ${text}`);
  return addDuration(ms, duration);
}
