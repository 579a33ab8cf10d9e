// Formatting of times, sizes and names for display.

const pad = (n) => String(n).padStart(2, "0");

/** "10:42" today, "25 Nov 10:42" otherwise (local time); "—" for nothing. */
export function clock(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  const now = new Date();
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.toDateString() === now.toDateString()) return time;
  const month = d.toLocaleString("en-GB", { month: "short" });
  const year = d.getFullYear() === now.getFullYear() ? "" : ` ${d.getFullYear()}`;
  return `${d.getDate()} ${month}${year} ${time}`;
}

/** Full local timestamp for tooltips. */
export function fullTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleString();
}

/** "3 min ago", "2 h ago", "just now". */
export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  if (!Number.isFinite(seconds)) return "—";
  if (seconds < 10) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400 * 2) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} days ago`;
}

/** 93784 -> "1 d 2 h", 3700 -> "1 h 1 min", 42 -> "42 s". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${hr} h`;
  if (hr) return `${hr} h ${min} min`;
  return `${min} min ${s % 60} s`;
}

/** Seconds between two timestamps (or until now). */
export function between(start, end) {
  if (!start) return null;
  const a = new Date(start).getTime();
  const b = end ? new Date(end).getTime() : Date.now();
  return (b - a) / 1000;
}

/** 4 -> "4 GB", 0.5 -> "0.5 GB", 2048 -> "2 TB". */
export function gb(value) {
  if (value === null || value === undefined) return "—";
  if (value >= 1024) return `${trim(value / 1024)} TB`;
  return `${trim(value)} GB`;
}

function trim(n) {
  return Number(n.toFixed(n < 10 ? 1 : 0)).toString();
}

/** Group thousands: 12345 -> "12,345". */
export function count(n) {
  return Number(n || 0).toLocaleString("en-US");
}

/** "wait_for_key" -> "Wait for key"; "create_vm" -> "Create VM". */
export function humanize(name) {
  if (!name) return "";
  const words = String(name).replace(/[_-]+/g, " ").trim();
  return (words.charAt(0).toUpperCase() + words.slice(1))
    .replace(/\bvm\b/gi, "VM")
    .replace(/\biso\b/gi, "ISO")
    .replace(/\bos\b/gi, "OS")
    .replace(/\bip\b/gi, "IP")
    .replace(/\bdns\b/gi, "DNS")
    .replace(/\bipv4\b/gi, "IPv4")
    .replace(/\bgb\b/gi, "GB")
    .replace(/\bcpu\b/gi, "CPU")
    .replace(/\bvlan\b/gi, "VLAN")
    .replace(/\bnic\b/gi, "network adapter")
    .replace(/\bssh\b/gi, "SSH");
}
