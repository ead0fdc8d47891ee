// RFC 3339 date-times: the only accepted input form, and the one output form (UTC with milliseconds).

// Date, 'T' (or a space, as RFC 3339 allows), time with optional fraction, and a zone that is required.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/

function daysInMonth (year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate()
}

/** Epoch milliseconds of an RFC 3339 date-time with a zone, or null when it is not one. */
export function parseDateTime (text: string): number | null {
  const match = RFC3339.exec(text)
  if (match === null) return null
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null
  if (hour > 23 || minute > 59 || second > 60) return null
  let offsetMinutes = 0
  if (match[9] !== undefined) {
    const offsetHours = Number(match[10])
    const offsetMins = Number(match[11])
    if (offsetHours > 23 || offsetMins > 59) return null
    offsetMinutes = (offsetHours * 60 + offsetMins) * (match[9] === '-' ? -1 : 1)
  }
  const millis = match[7] === undefined ? 0 : Math.floor(Number(`0${match[7]}`) * 1000)
  // A leap second (:60) is kept as the last millisecond of its minute: JavaScript time has no leap seconds.
  const secondPart = second === 60 ? 59 : second
  const extra = second === 60 ? 999 : millis
  const utc = Date.UTC(year, month - 1, day, hour, minute, secondPart, extra) - offsetMinutes * 60_000
  const formatted = new Date(utc).toISOString()
  // Offsets can push a year-0000 or year-9999 time outside the range RFC 3339 can write.
  return /^\d{4}-/.test(formatted) ? utc : null
}

export function isDateTime (text: string): boolean {
  return parseDateTime(text) !== null
}

// Messages stored together share their times: a page of 100 formats far fewer distinct values than 300.
const formatted = new Map<number, string>()
const FORMAT_CACHE_SIZE = 4096

export function formatTime (epochMillis: number): string {
  let text = formatted.get(epochMillis)
  if (text === undefined) {
    if (formatted.size >= FORMAT_CACHE_SIZE) formatted.clear()
    text = new Date(epochMillis).toISOString()
    formatted.set(epochMillis, text)
  }
  return text
}
