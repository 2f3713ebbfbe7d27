//! KDL text to a span-keeping syntax tree (KDL 2; KDL 1 accepted as a fallback).
