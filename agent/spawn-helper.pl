# The agent's spawn helper (agent/spawn-helper.ts starts it with perl, detached: a process group of
# its own). It forks the agent's commands so that the agent does not have to: fork() copies the page
# tables of the process that calls it, and the agent's 50 MB cost about 1 ms per command where this
# process's 5 MB cost a tenth of that. It is also the orphan guard: when its stdin ends, which the
# kernel makes happen however the agent ends (a SIGKILL, the OOM killer, a crash), it SIGKILLs the
# process group of every command still running, then exits.
#
# Builtins only (perl-base, no modules), so that it starts in 2 ms and holds little memory.
#
# Requests, on stdin, one a line; every byte string is `x` followed by its bytes in hex:
#   B n K=V...                       the environment every command starts from (sent first): the
#                                    helper's own from then on, which its commands inherit
#   R id cwd argc arg... n K=V...     run argv in cwd with the base environment plus these variables
#   A id after cwd argc arg... n K=V...
#                                    the same, started once command `after` is done (reaped, pipes
#                                    closed) with code 0 and no kill sent through K: started here, at
#                                    once, without a turn of the agent in between; otherwise never (N)
#   K id signal                      send the signal to the command's process group, and start
#                                    nothing after it; a command still waiting (A) is withdrawn (N)
#   W id                             withdraw a command still waiting (N); a started one runs on
#   P id / C id                      pause / continue reading the command's output (flow control)
# Replies, on stdout, each a type byte, the command's id (u32, big-endian), a length (u32) and
# that many bytes:
#   S pid                  started: the command's pid, also its process group's id
#   F errno stage          not started: the errno (a number) where it failed (pipe, fork, chdir, exec)
#   O bytes / E bytes      output on stdout / stderr, in order per stream
#   X code signal cu cs    the main process was reaped: exit code or signal number (the other -1), and
#                          the CPU seconds (user, system) of it and every process it waited for
#   D                      done: reaped and both pipes closed; nothing more comes for this id
#   N                      not started, and never will be: the command before it ended otherwise,
#                          was killed, or it was withdrawn; nothing more comes for this id
use strict;

# Deaf to the terminal's signals: a Ctrl-C that reaches the agent must not end the guard first.
$SIG{INT} = $SIG{TERM} = $SIG{HUP} = 'IGNORE';
# A write to an agent that is gone fails (and ends this process, below) instead of killing it
# before it has killed the commands.
$SIG{PIPE} = 'IGNORE';
# Installed so that a child's end interrupts select() (EINTR) and is reaped at once; the main loop
# calls waitpid() only after one (or after select()'s safety timeout).
my $chld = 1;
$SIG{CHLD} = sub { $chld = 1 };
# Linux: the pipe to the agent holds 1 MiB instead of 64 KiB (F_SETPIPE_SZ, 1031), so a busy
# command's output does not go in lockstep, one 64 KiB reply and one wake-up of each side at a time.
fcntl(STDOUT, 1031, 1 << 20) if $^O eq 'linux';

my %cmds;       # id => { pid, fh => {O => handle, E => handle}, open, paused, reaped, ok, killed }
my %by_pid;     # pid => id, while unreaped
my %queued;     # id => [[id, request], ...]: the commands waiting (A) for this one to be done
my %queued_on;  # id => the id it waits for, while it waits
my @ready;      # [id, request, before]: commands whose command before ended well, started at the loop's top
my %outcome;    # id => 1 if it ended with code 0 and no kill, else 0: the last few done (@outcomes)
my @outcomes;
my $pending = '';    # requests read, not yet whole
my $stdin_open = 1;
my ($last_cu, $last_cs) = (times)[2, 3];

sub decode { my ($field) = @_; return pack('H*', substr($field, 1)); }

# Replies wait in one buffer, written when the main loop comes round (flush_replies): a command's
# exit and done go out in one write, one wake-up of the agent instead of two. Output is written once
# a reply holds 64 KiB, so a busy command's bytes are not held back.
my $replies = '';

sub reply {
  my ($type, $id, $data) = @_;
  $replies .= pack('aNN', $type, $id, length $data) . $data;
  flush_replies() if length $replies >= 65536;
}

sub flush_replies {
  my $off = 0;
  while ($off < length $replies) {
    my $n = syswrite(STDOUT, $replies, length($replies) - $off, $off);
    if (!defined $n) {
      next if $!{EINTR};
      $replies = '';
      finish();    # the agent is gone
    }
    $off += $n;
  }
  $replies = '';
}

# The agent is gone or done: every command still running goes with it.
sub finish {
  for my $cmd (values %cmds) {
    kill 'KILL', -$cmd->{pid} if $cmd->{pid};
  }
  exit 0;
}

sub env_pairs {
  my ($fields, $i) = @_;
  my $n = $fields->[$i++];
  my %env;
  for (1 .. $n) {
    my ($k, $v) = split /=/, decode($fields->[$i++]), 2;
    $env{$k} = $v;
  }
  return (\%env, $i);
}

# In the forked child, before exec: tells the helper why it cannot go on, and ends.
sub child_fail {
  my ($status, $stage) = @_;
  syswrite($status, (0 + $!) . " $stage");
  CORE::exit(127);
}

# The next command's process, forked ahead of its request: fork() is the dearest part of a start
# (0.4-0.6 ms here), so it happens while the helper would otherwise wait, not after a request came.
# The child waits for its request on a pipe; the helper holds the other ends.
my $spare;
my $prefork_failed = 0;

sub prefork {
  my ($req_r, $req_w, $out_r, $out_w, $err_r, $err_w, $status_r, $status_w);
  # Perl marks every descriptor above 2 close-on-exec: only the child's 0, 1 and 2 reach the command.
  unless (pipe($req_r, $req_w) && pipe($out_r, $out_w) && pipe($err_r, $err_w) && pipe($status_r, $status_w)) {
    return "@{[0 + $!]} pipe";
  }
  # Linux: a command's stdout pipe holds 256 KiB, so a busy one is read in a quarter of the reads
  # (a bigger size counts against the user's pipe budget, which the builds' own pipes share).
  fcntl($out_r, 1031, 1 << 18) if $^O eq 'linux';
  my $pid = fork;
  if (!defined $pid) {
    my $errno = 0 + $!;
    close $_ for ($req_r, $req_w, $out_r, $out_w, $err_r, $err_w, $status_r, $status_w);
    return "$errno fork";
  }
  if ($pid == 0) {
    close $_ for ($req_w, $out_r, $err_r, $status_r);
    # What does not depend on the request is done before it comes, off the command's start.
    $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP PIPE CHLD);
    setpgrp(0, 0);
    open(STDIN, '<', '/dev/null') or child_fail($status_w, 'stdin');
    open(STDOUT, '>&', $out_w) or child_fail($status_w, 'stdout');
    open(STDERR, '>&', $err_w) or child_fail($status_w, 'stderr');
    my $request = '';
    while (1) {
      my $n = sysread($req_r, $request, 65536, length $request);
      last if defined $n && $n == 0;
      CORE::exit(0) if !defined $n && !$!{EINTR};
    }
    CORE::exit(0) unless length $request;    # the helper ends: no command comes
    my @f = split / /, $request;
    my $cwd = decode($f[0]);
    my $argc = $f[1];
    my @argv = map { decode($_) } @f[2 .. 1 + $argc];
    my ($env) = env_pairs(\@f, 2 + $argc);
    chdir($cwd) or child_fail($status_w, 'chdir');
    # The helper's own environment is the base (set at `B`), inherited: only the command's variables change.
    $ENV{$_} = $env->{$_} for keys %$env;
    exec { $argv[0] } @argv;
    child_fail($status_w, 'exec');
  }
  close $_ for ($req_r, $out_w, $err_w, $status_w);
  $spare = { pid => $pid, req => $req_w, out => $out_r, err => $err_r, status => $status_r };
  return '';
}

# Runs a request (`cwd argc arg... n K=V...`) in the spare process (the main loop forks the next).
sub run_command {
  my ($id, $request) = @_;
  $prefork_failed = 0;
  if (!$spare) {
    my $failed = prefork();
    return reply('F', $id, $failed) if $failed;
  }
  flush_replies();    # what came before goes out before this waits for the exec
  my $child = $spare;
  undef $spare;
  my $pid = $child->{pid};
  syswrite($child->{req}, $request);
  close $child->{req};
  # The status pipe closes on a successful exec, or brings the child's errno first.
  my $why = '';
  while (1) {
    my $n = sysread($child->{status}, $why, 256, length $why);
    last if defined $n && $n == 0;
    next if !defined $n && $!{EINTR};
    last if !defined $n;
  }
  close $child->{status};
  if (length $why) {
    waitpid($pid, 0);
    ($last_cu, $last_cs) = (times)[2, 3];
    close $_ for ($child->{out}, $child->{err});
    reply('F', $id, $why);
    ended($id, 0);
  } else {
    $cmds{$id} = { pid => $pid, fh => { O => $child->{out}, E => $child->{err} }, open => 2, paused => 0, reaped => 0 };
    $by_pid{$pid} = $id;
    reply('S', $id, $pid);
  }
}

sub done_if_over {
  my ($id) = @_;
  my $cmd = $cmds{$id};
  return unless $cmd->{open} == 0 && $cmd->{reaped};
  delete $cmds{$id};
  reply('D', $id, '');
  ended($id, $cmd->{ok} && !$cmd->{killed});
}

# A command is over (done, or it could not start): what waits for it starts (at the top of the main
# loop, after any withdraw or kill the agent sent meanwhile) or is never started.
sub ended {
  my ($id, $ok) = @_;
  $outcome{$id} = $ok ? 1 : 0;
  push @outcomes, $id;
  delete $outcome{shift @outcomes} while @outcomes > 64;
  for my $next (@{ delete $queued{$id} // [] }) {
    delete $queued_on{$next->[0]};
    if ($ok) { push @ready, [@$next, $id] } else { not_started($next->[0]) }
  }
}

# Never started: told, and so is everything waiting for it.
sub not_started {
  my ($id) = @_;
  reply('N', $id, '');
  ended($id, 0);
}

# Takes a waiting command out of its queue or of @ready; whether it was there.
sub withdraw {
  my ($id) = @_;
  if (defined(my $before = delete $queued_on{$id})) {
    $queued{$before} = [grep { $_->[0] != $id } @{ $queued{$before} }];
    delete $queued{$before} unless @{ $queued{$before} };
    return 1;
  }
  my $n = @ready;
  @ready = grep { $_->[0] != $id } @ready;
  return @ready < $n;
}

# Whether command `id` is running, or waiting to (so that a command can wait for it in turn).
sub known { my ($id) = @_; return $cmds{$id} || defined $queued_on{$id} || grep { $_->[0] == $id } @ready; }

# Starts the commands whose command before ended well, once the requests already sent are heard:
# the agent sends a kill (K) or a withdraw (W) before anything that could make it moot.
sub start_ready {
  return unless @ready;
  my $rin = '';
  vec($rin, fileno(STDIN), 1) = 1;
  read_requests() if $stdin_open && select(my $rout = $rin, undef, undef, 0) > 0;
  while (my $next = shift @ready) { run_command(@$next[0, 1]) }
}

sub reap {
  while ((my $pid = waitpid(-1, 1)) > 0) {    # 1: WNOHANG
    my $status = $?;
    my ($cu, $cs) = (times)[2, 3];
    my $id = delete $by_pid{$pid};
    next unless defined $id;
    my ($code, $signal) = ($status & 127) ? (-1, $status & 127) : ($status >> 8, -1);
    reply('X', $id, sprintf('%d %d %.3f %.3f', $code, $signal, $cu - $last_cu, $cs - $last_cs));
    ($last_cu, $last_cs) = ($cu, $cs);
    $cmds{$id}{reaped} = 1;
    $cmds{$id}{ok} = $code == 0;
    # Its pipes most often closed as it ended: read to their end now, so that `D` goes out in the
    # same write as `X`, and the agent wakes once for both.
    # (Read through `$cmd`: once a drain ended the command, `$cmds{$id}{fh}` would bring it back, empty.)
    for my $stream ('O', 'E') {
      my $cmd = $cmds{$id} or last;
      my $fh = $cmd->{fh}{$stream} or next;
      my $bit = '';
      vec($bit, fileno($fh), 1) = 1;
      drain($id, $stream) if !$cmd->{paused} && select($bit, undef, undef, 0) > 0;
    }
    done_if_over($id) if $cmds{$id};
  }
}

sub request {
  my ($line) = @_;
  my @f = split / /, $line;
  my $what = $f[0] // '';
  if ($what eq 'B') {
    my ($env) = env_pairs(\@f, 1);
    %ENV = %$env;
    # A spare forked before holds the old base: it goes, and the next one is forked now.
    if ($spare) {
      my $old = $spare;
      undef $spare;
      close $_ for ($old->{req}, $old->{out}, $old->{err}, $old->{status});
    }
    prefork();
  } elsif ($what eq 'R') {
    my ($id, $request) = $line =~ /^R (\d+) (.*)$/s or return;
    run_command($id, $request);
  } elsif ($what eq 'A') {
    my ($id, $before, $request) = $line =~ /^A (\d+) (\d+) (.*)$/s or return;
    if (known($before)) {
      push @{ $queued{$before} }, [$id, $request];
      $queued_on{$id} = $before;
    } elsif ($outcome{$before}) {
      run_command($id, $request);
    } else {
      not_started($id);
    }
  } elsif ($what eq 'K') {
    my ($id, $signal) = @f[1, 2];
    return not_started($id) if withdraw($id);
    # Done already, its next not started yet: a kill sent before the agent heard of the end stops it.
    for my $next (grep { $_->[2] == $id } @ready) { not_started($next->[0]) if withdraw($next->[0]) }
    my $cmd = $cmds{$id} or return;
    $cmd->{killed} = 1;
    kill $signal, -$cmd->{pid} if $cmd->{pid};
  } elsif ($what eq 'W') {
    not_started($f[1]) if withdraw($f[1]);
  } elsif ($what eq 'P' || $what eq 'C') {
    $cmds{$f[1]}{paused} = $what eq 'P' ? 1 : 0 if $cmds{$f[1]};
  }
}

my $read_bytes = 1 << 18;

# Reads what stdin holds (it was ready) and carries out each whole request.
sub read_requests {
  my $got = sysread(STDIN, $pending, 65536, length $pending);
  if (!defined $got) {
    $stdin_open = 0 unless $!{EINTR};
  } elsif ($got == 0) {
    $stdin_open = 0;
  } else {
    while ((my $nl = index($pending, "\n")) >= 0) {
      request(substr($pending, 0, $nl));
      substr($pending, 0, $nl + 1) = '';
    }
  }
}

while (1) {
  if ($chld) {
    $chld = 0;
    reap();
  }
  start_ready();
  flush_replies();
  my $rin = '';
  vec($rin, fileno(STDIN), 1) = 1 if $stdin_open;
  my %ready_fh;
  my $waiting = 0;
  for my $id (keys %cmds) {
    my $cmd = $cmds{$id};
    # Unreaped: 1; unreaped with both pipes closed (its exit is a moment away): 2.
    $waiting = $cmd->{open} == 0 ? 2 : ($waiting || 1) unless $cmd->{reaped};
    next if $cmd->{paused};
    for my $stream ('O', 'E') {
      my $fh = $cmd->{fh}{$stream} or next;
      vec($rin, fileno($fh), 1) = 1;
      $ready_fh{fileno($fh)} = [$id, $stream];
    }
  }
  finish() if !$stdin_open;
  # The next spare is forked once nothing is waiting to be read: a short command's end (its pipes
  # closing) is handled first, the fork then fills the time until the next request.
  # (A fork that failed is tried again with the next request, not in a loop.)
  if (!$spare && !$prefork_failed && select(my $busy = $rin, undef, undef, 0) == 0) {
    $prefork_failed = prefork() ne '';
    next;
  }
  # A child can end between reap() and select(): then no signal wakes select, so it waits at most
  # a moment while any command is unreaped: 1 ms once its pipes closed (the kernel closes them just
  # before it signals the end, so the signal may come in that gap), else 50 ms.
  next if $chld;    # signalled since the top of the loop
  my $n = select(my $rout = $rin, undef, undef, $waiting == 2 ? 0.001 : $waiting ? 0.05 : undef);
  $chld = 1 if $n == 0;    # the timeout: a child may have ended unsignalled
  next if $n <= 0;
  read_requests() if vec($rout, fileno(STDIN), 1);
  # Each ready pipe is drained, stdout before stderr: select() does not say which became readable
  # first, and a command that wrote to both while the helper was busy most often wrote its stdout
  # first (a build tool's output, then its error). Drained, not read once: a pipe read once per turn
  # would let the other stream's later bytes overtake the rest of it.
  # ('O' sorts after 'E': hence $b before $a for the stream.)
  for my $fd (sort { $ready_fh{$a}[0] <=> $ready_fh{$b}[0] || $ready_fh{$b}[1] cmp $ready_fh{$a}[1] } keys %ready_fh) {
    next unless vec($rout, $fd, 1);
    my ($id, $stream) = @{ $ready_fh{$fd} };
    next if $cmds{$id} && $cmds{$id}{paused};    # paused by a request read in this same pass
    drain($id, $stream);
  }
}

# Reads what one command's pipe holds now, at most 4 reads (1 MiB): other commands get their turn,
# and a pause the agent asks for meanwhile is heard within that much more output.
sub drain {
  my ($id, $stream) = @_;
  for (1 .. 4) {
    my $cmd = $cmds{$id} or return;
    my $fh = $cmd->{fh}{$stream} or return;
    my $buf;
    my $got = sysread($fh, $buf, $read_bytes);
    return if !defined $got && $!{EINTR};
    if (!$got) {
      close $fh;
      delete $cmd->{fh}{$stream};
      $cmd->{open}--;
      return done_if_over($id);
    }
    reply($stream, $id, $buf);
    # A short read emptied the pipe; after a full one, read on only if more is there already.
    return if $got < $read_bytes;
    my $bit = '';
    vec($bit, fileno($fh), 1) = 1;
    return unless select($bit, undef, undef, 0) > 0;
  }
}
