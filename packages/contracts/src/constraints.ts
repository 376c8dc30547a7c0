/** Constraints of the wire contract that every service validates the same way. */

/** A SKU: 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit. */
export const SKU_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
