// Money in reports: minor units per currency, shown in major units (jpy has none).
export function formatMoney(money: Record<string, number>): string {
  const parts = Object.entries(money).filter(([, v]) => v !== 0).sort(([a], [b]) => a.localeCompare(b)).map(([cur, cents]) => {
    let digits = 2;
    try {
      digits = new Intl.NumberFormat('en', { style: 'currency', currency: cur.toUpperCase() }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      // not an ISO currency: show raw minor units with two decimals
    }
    const value = (cents / 10 ** digits).toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
    return `${cur} ${value}`;
  });
  return parts.length > 0 ? parts.join(' + ') : '0';
}
