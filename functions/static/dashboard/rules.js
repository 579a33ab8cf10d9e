// Client-side validation of the VM create request, mirroring the server (functions/models/vm_request.py):
// the JSON-schema constraints of each field, the field formats, and the cross-field rules. The server stays the
// judge — its problem+json errors are shown the same way — this only saves a round trip.

export const WINDOWS_VALUE_LIMIT = 100;
export const LINUX_VALUE_LIMIT = 3000;

const HOST_NAME = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const LINUX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const WINDOWS_USER_FORBIDDEN = /["/\\[\]:;|=,+*?<>@]/;
const DN_PART = /^\s*(OU|CN|DC)\s*=\s*\S.*$/i;
const SSH_KEY = /^([a-z0-9@.-]+) ([A-Za-z0-9+/]+={0,3})(?: [^\r\n]*)?$/;
const SSH_KEY_TYPES = new Set([
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
]);
const WINDOWS_IMAGE = /^(windows|microsoft windows)(?=$|[\s\-_.0-9])/i;
const LINUX_IMAGE = /^(ubuntu|red hat enterprise linux|rhel|centos|rocky linux|almalinux|oracle linux|debian|suse|opensuse|fedora)(?=$|[\s\-_.0-9])/i;

/** The OS family an image name implies (the server's prefix rule), or null. */
export function osFamilyFromImage(image) {
  const name = String(image || "").trim();
  if (WINDOWS_IMAGE.test(name)) return "windows";
  if (LINUX_IMAGE.test(name)) return "linux";
  return null;
}

// -- field formats (by field name) ------------------------------------------------------------------------------

function controlChars(value) {
  for (const ch of value) {
    const code = ch.codePointAt(0);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return "must not contain control characters (newlines, tabs, …)";
    if (code > 0xffff) return "must not contain characters outside the Basic Multilingual Plane (e.g. emoji)";
  }
  return null;
}

function dnsName(value) {
  const labels = value.split(".");
  if (value.length > 253 || !labels.every((l) => HOST_NAME.test(l)) || /^\d+$/.test(labels[labels.length - 1])) {
    return "must be a valid DNS name (labels of letters, digits and hyphens separated by dots)";
  }
  return null;
}

function libraryName(value) {
  if (value !== value.trim()) return "must not start or end with spaces";
  if (/[\\/:*?"<>|]/.test(value) || value.includes("..")) return 'must be a library name, not a path (no \\ / : * ? " < > | or ..)';
  return controlChars(value);
}

/** Parse a dotted quad into a number, or null. */
export function ipv4Number(value) {
  const parts = String(value).split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return null;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

function ipv4(value) {
  const n = ipv4Number(value);
  if (n === null) return "must be an IPv4 address in dotted-quad form, e.g. 10.0.0.5";
  const first = Math.floor(n / 16777216);
  const second = Math.floor(n / 65536) % 256;
  if (n === 0 || first === 127 || first >= 224 || (first === 169 && second === 254)) {
    return "must be a unicast address (not 0.0.0.0, loopback, link-local, multicast or reserved)";
  }
  return null;
}

function distinguishedName(value) {
  const parts = value.split(/(?<!\\),/);
  if (!parts.every((p) => DN_PART.test(p))) return "must be a distinguished name such as OU=Servers,DC=corp,DC=example";
  if (!parts.some((p) => p.trim().toUpperCase().startsWith("DC"))) return "must include the domain components (DC=...)";
  return null;
}

function sshKey(value) {
  const match = SSH_KEY.exec(value.trim());
  if (!match || !SSH_KEY_TYPES.has(match[1])) {
    return "must be one OpenSSH public key line: '<type> <base64> [comment]' with type ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521 or a security-key type";
  }
  return null; // the key data itself is checked by the server
}

const FORMATS = {
  name: (v) => (!HOST_NAME.test(v) ? "must be 1-63 letters (a-z, A-Z), digits and hyphens, not starting or ending with a hyphen (it becomes the guest's host name)" : /^\d+$/.test(v) ? "must not be all digits" : null),
  host: dnsName,
  image: libraryName,
  network: libraryName,
  "guest.admin_username": controlChars,
  "guest.admin_password": controlChars,
  "guest.ipv4.address": ipv4,
  "guest.ipv4.gateway": ipv4,
  "guest.ipv4.dns_suffix": dnsName,
  "guest.domain_join.domain": dnsName,
  "guest.domain_join.username": controlChars,
  "guest.domain_join.password": controlChars,
  "guest.domain_join.ou": (v) => controlChars(v) || distinguishedName(v),
  "guest.ansible.ssh_user": controlChars,
  "guest.ansible.ssh_public_key": sshKey,
};

/** Problems of one field value against its JSON schema and its format. */
export function fieldProblems(path, value, schema) {
  if (value === null || value === undefined) return [];
  const problems = [];
  if (schema.type === "integer") {
    if (typeof value !== "number" || !Number.isInteger(value)) return ["must be a whole number"];
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`must be at least ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`must be at most ${schema.maximum}`);
  } else if (schema.type === "string") {
    const length = Array.from(value).length;
    if (schema.minLength !== undefined && length < schema.minLength) problems.push(schema.minLength === 1 ? "must not be empty" : `must be at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && length > schema.maxLength) problems.push(`must be at most ${schema.maxLength} characters`);
    if (schema.enum && !schema.enum.includes(value)) problems.push(`must be one of ${schema.enum.join(", ")}`);
    const format = FORMATS[path];
    const message = !problems.length && format ? format(value) : null;
    if (message) problems.push(message);
  } else if (schema.type === "array") {
    if (schema.minItems !== undefined && value.length < schema.minItems) problems.push(`must list at least ${schema.minItems}`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) problems.push(`must list at most ${schema.maxItems}`);
    if (path === "guest.ipv4.dns_servers") {
      const bad = value.map(ipv4).find(Boolean);
      if (bad) problems.push(`each server ${bad}`);
      else if (new Set(value).size !== value.length) problems.push("must not list the same server twice");
    }
  }
  return problems;
}

// -- cross-field rules (the server's rule_problems) ------------------------------------------------------------

const get = (data, path) => path.split(".").reduce((node, key) => (node && typeof node === "object" ? node[key] : undefined), data);

/** The request's OS family: explicit, else derived from the image; null when unknown. */
export function resolveFamily(data) {
  if (data.os_family === "windows" || data.os_family === "linux") return data.os_family;
  return data.image ? osFamilyFromImage(data.image) : null;
}

export function ruleProblems(data) {
  const problems = [];
  const add = (field, message) => problems.push({ field, message });
  const family = resolveFamily(data);
  if (!data.os_family) {
    if (!data.image) add("os_family", "is required when no image is given (a blank disk has no name to derive it from)");
    else if (!family) add("os_family", "cannot be derived from the image name; choose the OS family");
  }
  if (family === "windows" && typeof data.name === "string" && data.name.length > 15) add("name", "must be at most 15 characters for Windows guests (NetBIOS computer name)");
  if (!data.image && (data.disk_gb === null || data.disk_gb === undefined)) add("disk_gb", "is required for a blank disk (no image given)");
  if (data.image && !data.guest) add("guest", "is required when an image is given (the guest agent needs an administrator)");
  if (!data.image && data.guest) add("guest", "needs an image: a blank disk has no guest agent to configure");
  if (data.vlan_id !== null && data.vlan_id !== undefined && !data.network) add("vlan_id", "needs network (the virtual switch whose port is tagged)");
  if (family === "linux" && get(data, "guest.domain_join")) add("guest.domain_join", "domain join is supported for Windows guests only");
  if (family === "windows" && get(data, "guest.ansible")) add("guest.ansible", "Ansible SSH access is supported for Linux guests only");
  subnetProblems(data, add);
  if (family) {
    lengthProblems(data, family, add);
    usernameProblems(data, family, add);
    passwordProblems(data, family, add);
  }
  return problems;
}

function subnetProblems(data, add) {
  const address = ipv4Number(get(data, "guest.ipv4.address"));
  const gateway = ipv4Number(get(data, "guest.ipv4.gateway"));
  const prefix = get(data, "guest.ipv4.prefix_length");
  if (address === null || !Number.isInteger(prefix) || prefix < 1 || prefix > 32) return;
  const size = 2 ** (32 - prefix);
  const network = Math.floor(address / size) * size;
  const broadcast = network + size - 1;
  const cidr = `${[24, 16, 8, 0].map((s) => Math.floor(network / 2 ** s) % 256).join(".")}/${prefix}`;
  const special = prefix <= 30 ? [network, broadcast] : [];
  if (special.includes(address)) add("guest.ipv4.address", `is the ${address === network ? "network" : "broadcast"} address of ${cidr}`);
  if (gateway === null) return;
  if (gateway === address) add("guest.ipv4.gateway", "must differ from the guest's address");
  else if (gateway < network || gateway > broadcast) add("guest.ipv4.gateway", `must be inside the subnet ${cidr}`);
  else if (special.includes(gateway)) add("guest.ipv4.gateway", `must not be the network or broadcast address of ${cidr}`);
}

const LIMITED = [
  "guest.admin_username",
  "guest.admin_password",
  "guest.ipv4.dns_suffix",
  "guest.domain_join.domain",
  "guest.domain_join.username",
  "guest.domain_join.password",
  "guest.domain_join.ou",
  "guest.ansible.ssh_user",
  "guest.ansible.ssh_public_key",
];

function lengthProblems(data, family, add) {
  const limit = family === "windows" ? WINDOWS_VALUE_LIMIT : LINUX_VALUE_LIMIT;
  const why = family === "windows" ? "the Windows guest agent cannot reassemble values longer than one 100-character chunk" : "the guest protocol carries at most 30 chunks of 100 characters";
  for (const path of LIMITED) {
    let value = get(data, path);
    if (typeof value !== "string") continue;
    if (path.endsWith("ssh_public_key")) value = value.trim();
    if (value.length > limit) add(path, `is ${value.length} characters; at most ${limit} for ${family} guests (${why})`);
  }
}

function usernameProblems(data, family, add) {
  const username = get(data, "guest.admin_username");
  if (typeof username === "string") {
    if (family === "linux" && !LINUX_USER.test(username)) add("guest.admin_username", "must be a Linux user name: up to 32 lower-case letters, digits, '_' or '-', starting with a letter or '_'");
    if (family === "windows" && (username.length > 20 || WINDOWS_USER_FORBIDDEN.test(username) || !username.replace(/^[. ]+|[. ]+$/g, ""))) {
      add("guest.admin_username", 'must be a Windows user name: at most 20 characters, none of " / \\ [ ] : ; | = , + * ? < > @');
    }
  }
  const sshUser = get(data, "guest.ansible.ssh_user");
  if (typeof sshUser === "string" && !LINUX_USER.test(sshUser)) add("guest.ansible.ssh_user", "must be a Linux user name: up to 32 lower-case letters, digits, '_' or '-', starting with a letter or '_'");
}

function passwordProblems(data, family, add) {
  const password = get(data, "guest.admin_password");
  if (family !== "windows" || typeof password !== "string" || password.length < 8) return;
  const classes = [/\p{Lu}/u, /\p{Ll}/u, /\p{Nd}/u, /[^\p{L}\p{N}]/u].filter((re) => re.test(password)).length;
  const username = get(data, "guest.admin_username") || "";
  if (classes < 3) add("guest.admin_password", "must use 3 of: upper-case, lower-case, digits, symbols (Windows password complexity)");
  else if (username.length >= 3 && password.toLowerCase().includes(username.toLowerCase())) add("guest.admin_password", "must not contain the user name (Windows password policy)");
}
