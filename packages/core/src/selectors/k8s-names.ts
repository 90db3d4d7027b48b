// Kubernetes name and label syntax, as k8s.io/apimachinery/pkg/util/validation checks it. Each
// function returns the first problem as text, or undefined when the input is valid, so callers can
// wrap it in their own error with a path or a position.
//
// Every check tests the length before the regular expression: the patterns are anchored and linear
// for bounded input, and refusing oversized input first keeps them so for any config we are fed.

/** Longest DNS-1123 label: namespace names and the name part of label keys. */
export const DNS1123_LABEL_MAX_LENGTH = 63;
/** Longest DNS-1123 subdomain: ServiceAccount names and label key prefixes. */
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;
/** Longest name part of a label key (after the optional `prefix/`). */
export const LABEL_NAME_MAX_LENGTH = 63;
/** Longest label value. */
export const LABEL_VALUE_MAX_LENGTH = 63;

const DNS1123_LABEL = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const tooLong = (max: number, length: number) => `must be at most ${max} characters (got ${length})`;

/** Why `name` is not a DNS-1123 label (namespace names), or undefined when it is one. */
export function dns1123LabelProblem(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name.length > DNS1123_LABEL_MAX_LENGTH) return tooLong(DNS1123_LABEL_MAX_LENGTH, name.length);
  if (!DNS1123_LABEL.test(name)) {
    return "must consist of lower case alphanumeric characters or '-', and start and end with an alphanumeric character (a DNS-1123 label, e.g. 'my-name')";
  }
  return undefined;
}

/** Why `name` is not a DNS-1123 subdomain (ServiceAccount names), or undefined when it is one. */
export function dns1123SubdomainProblem(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name.length > DNS1123_SUBDOMAIN_MAX_LENGTH) return tooLong(DNS1123_SUBDOMAIN_MAX_LENGTH, name.length);
  if (!DNS1123_SUBDOMAIN.test(name)) {
    return "must consist of lower case alphanumeric characters, '-' or '.', and start and end with an alphanumeric character (a DNS-1123 subdomain, e.g. 'example.com')";
  }
  return undefined;
}

/**
 * Why `key` is not a valid label key, or undefined. A key is an optional DNS-1123 subdomain prefix
 * (≤253) and `/`, then a name of ≤63 characters `[A-Za-z0-9]` with `-`, `_`, `.` inside.
 */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split("/");
  let name: string;
  if (parts.length === 1) {
    name = key;
  } else if (parts.length === 2) {
    const prefix = parts[0] ?? "";
    name = parts[1] ?? "";
    if (prefix.length === 0) return "prefix before '/' must not be empty";
    const prefixProblem = dns1123SubdomainProblem(prefix);
    if (prefixProblem) return `prefix ${JSON.stringify(prefix)} ${prefixProblem}`;
  } else {
    return "may contain at most one '/' (an optional DNS subdomain prefix, '/', then the name, e.g. 'example.com/my-name')";
  }
  if (name.length === 0) return "name part must not be empty";
  if (name.length > LABEL_NAME_MAX_LENGTH) return `name part ${tooLong(LABEL_NAME_MAX_LENGTH, name.length)}`;
  if (!QUALIFIED_NAME.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and start and end with an alphanumeric character (e.g. 'MyName', 'my.name', '123-abc')";
  }
  return undefined;
}

/** Why `value` is not a valid label value, or undefined. The empty string is valid. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > LABEL_VALUE_MAX_LENGTH) return tooLong(LABEL_VALUE_MAX_LENGTH, value.length);
  if (!LABEL_VALUE.test(value)) {
    return "must be empty or consist of alphanumeric characters, '-', '_' or '.', and start and end with an alphanumeric character (e.g. 'MyValue', 'my_value', '12345')";
  }
  return undefined;
}
