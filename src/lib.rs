//! lienthong
