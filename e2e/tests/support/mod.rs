//! The whole stack as separate processes, the faults done to it, the traffic sent
//! through it and the checks made afterwards.

pub mod chaos;
pub mod checks;
pub mod stack;
pub mod traffic;
