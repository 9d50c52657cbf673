//! Developer and benchmark tools behind `flowly dev`: never needed to run Flowly, and never run by
//! a serving node. [`seed`] writes the dataset the traffic generator (`flowly-traffic`) drives.

pub mod seed;
