//! Reading capture files: pcap (either byte order, micro- or nanosecond), pcapng (any
//! number of interfaces and link types), gzip-compressed either way, from a path or
//! standard input. The format is detected by magic number, never by the file's name.
