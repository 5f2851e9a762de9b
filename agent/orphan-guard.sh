# The orphan guard's helper (agent/orphan-guard.ts starts it with /bin/sh, detached: a session and
# process group of its own). A shell script, not a second node: about 1 MB beside the agent, where a
# node helper held 40.
#
# Reads the process groups to watch from stdin, one a line: `+PGID` when a command starts, `-PGID`
# once it is gone; anything else is ignored. When stdin ends, which the kernel makes happen however
# the agent ends (a SIGKILL, the OOM killer, a crash), it SIGKILLs every group still listed and
# exits. Ignores the terminal's signals: a Ctrl-C or hangup that reaches the agent must not end the
# guard before the agent has ended its commands.

trap '' INT TERM HUP

# The groups watched, each with a space either side: " 12 345 ".
groups=' '
while IFS= read -r line; do
  case $line in
    [+-]*) pgid=${line#?} ;;
    *) continue ;;
  esac
  # Digits only, no leading zero, at most 10 of them; group 0 means the caller's own group and 1
  # would be init's: never a command's.
  case $pgid in
    '' | *[!0-9]* | 0* | 1) continue ;;
  esac
  [ ${#pgid} -le 10 ] || continue
  case $line in
    +*)
      case $groups in
        *" $pgid "*) ;;
        *) groups="$groups$pgid " ;;
      esac
      ;;
    *)
      case $groups in
        *" $pgid "*) groups="${groups%%" $pgid "*} ${groups#*" $pgid "}" ;;
      esac
      ;;
  esac
done

for pgid in $groups; do
  kill -s KILL -- "-$pgid" 2>/dev/null
done
exit 0
