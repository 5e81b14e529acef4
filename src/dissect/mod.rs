//! Dissect: the application protocols that reveal names on the wire. Each works on
//! byte slices only and assumes the bytes can end or lie at any offset.
