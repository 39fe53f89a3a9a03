//! The integration tests, in one binary so that the crate and its dependencies are linked
//! once: each module drives the real `harness` binary against real servers on 127.0.0.1:0
//! and real target processes (`node` apps from `scenarios/apps/`), sharing the test servers
//! and the run builder of [`support`].

mod support;

mod analysis;
mod attach;
mod capacity;
mod cli;
mod heap;
mod io;
mod kinds;
mod load;
mod npm;
mod probe;
mod profile;
mod protocols;
mod report;
mod scenarios;
mod shards;
mod target;
mod traces;
