//! Process figures for `/metrics` (CPU time, resident memory, open files, start time), read
//! from `/proc/self` on Linux. Elsewhere, or when `/proc` is not mounted, they are absent
//! rather than zero: an alert on a missing series is explicit, on a false zero it is not.

/// Clock ticks per second of `/proc/<pid>/stat` times. Linux fixes `USER_HZ` at 100 for the
/// user-visible interface on every architecture it supports.
const USER_HZ: f64 = 100.0;

/// What `/proc/self` tells about this process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ProcessStats {
    /// User plus system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Resident set size, bytes.
    pub resident_bytes: u64,
    /// Open file descriptors.
    pub open_fds: u64,
    /// Start time, Unix seconds.
    pub start_time_secs: f64,
}

/// Reads the figures; `None` when `/proc` cannot be read (not Linux, not mounted).
pub(crate) fn read() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    parse(&stat, &status, &boot, open_fds)
}

/// Parses `/proc/self/stat`, `/proc/self/status` and `/proc/stat`.
fn parse(stat: &str, status: &str, boot: &str, open_fds: u64) -> Option<ProcessStats> {
    // The command name (field 2) is in parentheses and may hold spaces: split after its end.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime 15, starttime 22.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let cpu_ticks = field(14)? + field(15)?;
    let start_ticks = field(22)?;
    let rss_kib: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
    let btime: u64 = boot.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()?;
    Some(ProcessStats {
        cpu_seconds: cpu_ticks as f64 / USER_HZ,
        resident_bytes: rss_kib * 1024,
        open_fds,
        start_time_secs: btime as f64 + start_ticks as f64 / USER_HZ,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_parse_even_with_spaces_in_the_command_name() {
        let stat = "4242 (hear say) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 9 0 12345 1000 300 18446744073709551615";
        let status = "Name:\thearsay\nVmPeak:\t  9000 kB\nVmRSS:\t    2048 kB\nThreads:\t9\n";
        let boot = "cpu  1 2 3\nbtime 1700000000\nprocesses 5\n";
        let got = parse(stat, status, boot, 12).unwrap();
        assert_eq!(got.cpu_seconds, 3.0);
        assert_eq!(got.resident_bytes, 2048 * 1024);
        assert_eq!(got.open_fds, 12);
        assert_eq!(got.start_time_secs, 1_700_000_000.0 + 123.45);
        assert_eq!(parse("garbage", status, boot, 1), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_figures_on_linux() {
        let got = read().expect("/proc is readable");
        assert!(got.resident_bytes > 0 && got.open_fds > 0 && got.start_time_secs > 1.6e9, "{got:?}");
    }
}
