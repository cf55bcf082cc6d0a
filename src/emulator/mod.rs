//! A local Authsignal emulator (feature `emulator`).
