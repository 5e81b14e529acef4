//! The binary's edge.
pub fn main() -> i32 {
    0
}
