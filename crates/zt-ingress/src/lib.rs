//! zt-ingress (under construction).
