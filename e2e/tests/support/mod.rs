//! The whole stack as separate processes, the faults done to it, the traffic sent
//! through it and the checks made afterwards.

// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

pub mod chaos;
pub mod checks;
pub mod stack;
pub mod traffic;
