function __coderunner_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __coderunner_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __coderunner_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __coderunner_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __coderunner_parse_tokens -S
    set -l unparsed_tokens (__coderunner_tokens -pc)
    switch $unparsed_tokens[1]
    case 'coderunner'
        __coderunner_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'run'
            __coderunner_parse_subcommand -r 1 'config=' 'l/lang=' 'entry=' 'timeout=' 'memory=' 'cpus=' 'output-limit=' 'e/env=+' 'session=' 'fresh' 'ttl=' 'json' 'o/output=' 'follow-symlinks' 'force' 'raw' 'join' 'version' 'h/help'
        case 'serve'
            __coderunner_parse_subcommand 0 'config=' 'host=' 'port=' 'version' 'h/help'
        case 'session'
            __coderunner_parse_subcommand 1 'config=' 'session=' 'timeout=' 'memory=' 'time' 'meta-commands' 'raw' 'join' 'version' 'h/help'
        case 'pool'
            __coderunner_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'show'
                __coderunner_parse_subcommand 0 'config=' 'json' 'session=' 'version' 'h/help'
            case 'warm'
                __coderunner_parse_subcommand 1 'config=' 'session=' 'count=' 'networks=' 'join' 'version' 'h/help'
            case 'drain'
                __coderunner_parse_subcommand 0 'config=' 'session=' 'all' 'y/yes' 'networks' 'version' 'h/help'
            end
        case 'net'
            __coderunner_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'gc'
                __coderunner_parse_subcommand 0 'config=' 'dry-run' 'all' 'y/yes' 'json' 'version' 'h/help'
            end
        case 'fleet'
            __coderunner_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'status'
                __coderunner_parse_subcommand 0 'nodes=+' 'token=' 'timeout=' 'json' 'version' 'h/help'
            end
        case 'runtimes'
            __coderunner_parse_subcommand 0 'config=' 'json' 'version' 'h/help'
        case 'images'
            __coderunner_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'build'
                __coderunner_parse_subcommand -r 1 'config=' 'force' 'no-smoke-test' 'verbose' 'version' 'h/help'
            end
        case 'config'
            __coderunner_parse_subcommand 0 'config=' 'keys' 'json' 'version' 'h/help'
        case 'doctor'
            __coderunner_parse_subcommand 0 'config=' 'json' 'version' 'h/help'
        case 'help'
            __coderunner_parse_subcommand -r 1 'version'
        end
    end
end

function __coderunner_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __coderunner_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __coderunner_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __coderunner_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__coderunner_tokens -p)
    if test -z "$(__coderunner_tokens -t)"
        set -l index (count (__coderunner_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'coderunner' -f
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner" -eq 1' -fa 'run' -d 'Run a program in a container and stream its output.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner" -eq 1' -fa 'serve' -d 'Serve the engine over HTTP and WebSocket: web page, JSON protocol, Socket.IO, REST, health and metrics.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner" -eq 1' -fa 'session' -d 'An interactive shell on a persistent kernel: state survives between inputs.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner" -eq 1' -fa 'pool' -d 'Show subnet pools, sessions, containers and their TTLs; pre-warm or drain containers.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner" -eq 1' -fa 'net' -d 'Manage session networks.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner" -eq 1' -fa 'fleet' -d 'Look at several `coderunner serve` nodes at once.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner" -eq 1' -fa 'runtimes' -d 'List the language runtimes and whether their images are built and current.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner" -eq 1' -fa 'images' -d 'Build the runtime images.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner" -eq 1' -fa 'config' -d 'Print the effective settings and where each came from.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner" -eq 1' -fa 'doctor' -d 'Check Docker, the runtime images, the subnet pools and the resource limits, and say how to fix problems.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" config' -l 'config' -d 'Config file to read (default: $XDG_CONFIG_HOME/coderunner/config.toml, ~/.config/coderunner/config.toml, /etc/coderunner/config.toml).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'toml\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner run" -ge 1' -F
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" l lang' -s 'l' -l 'lang' -d 'Language (python, javascript, java, cpp, sql, or an alias); default: from the entry\'s extension.' -rfka 'python javascript java cpp sql'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" entry' -l 'entry' -d 'The file to run, relative to the uploaded folder.' -rF
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" timeout' -l 'timeout' -d 'Wall-clock limit of the run stage, e.g. 500ms, 2s, 1m.' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" memory' -l 'memory' -d 'Memory limit, from 6m to the engine host\'s memory, e.g. 128m, 1g (swap is not added).' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" cpus' -l 'cpus' -d 'CPU quota in CPUs, from 0.01 to the engine host\'s CPU count, e.g. 0.5.' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" output-limit' -l 'output-limit' -d 'Stop the program after this much output, e.g. 1m.' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run"' -s 'e' -l 'env' -d 'Environment variable for the program (repeatable).' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" session' -l 'session' -d 'Run in a named session, reusing its warm container and files.' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" fresh' -l 'fresh' -d 'Empty the session\'s work dir before running.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" ttl' -l 'ttl' -d 'With --session: how long the session\'s new containers stay after their last run, e.g. 10m (default container.ttl, 60s; at most 24h).' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" json' -l 'json' -d 'Print one JSON object (status, exit code, timings, output) instead of streaming.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" o output' -s 'o' -l 'output' -d 'For a notebook (.ipynb): write it back here with the outputs filled in (nbformat 4); plots are saved as PNG files next to it.' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'ipynb\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" follow-symlinks' -l 'follow-symlinks' -d 'Read symlinks that lead outside the submitted folder (or, for named files, the current directory); refused by default.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" force' -l 'force' -d 'For a notebook: replace existing output and figure files (a symlink is replaced, never written through).'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" raw' -l 'raw' -d 'Pass the program\'s terminal control sequences through unfiltered (clipboard, title, queries).'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" join' -l 'join' -d 'Run in a named session that another user or job (CODERUNNER_JOB) created.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner run" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner serve" config' -l 'config' -d 'Config file to read (default: $XDG_CONFIG_HOME/coderunner/config.toml, ~/.config/coderunner/config.toml, /etc/coderunner/config.toml).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'toml\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner serve" host' -l 'host' -d 'Address to listen on (default: server.host, 127.0.0.1).' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner serve" port' -l 'port' -d 'Port to listen on; 0 picks a free one (default: server.port, 8080).' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner serve" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner serve" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner session" config' -l 'config' -d 'Config file to read (default: $XDG_CONFIG_HOME/coderunner/config.toml, ~/.config/coderunner/config.toml, /etc/coderunner/config.toml).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'toml\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner session" -eq 1' -fka 'python javascript java cpp sql'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner session" session' -l 'session' -d 'Use (and keep) a named session instead of a throwaway one.' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner session" timeout' -l 'timeout' -d 'Per-cell time limit, e.g. 30s (default: the runtime\'s timeout).' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner session" memory' -l 'memory' -d 'Memory limit of the session\'s containers, e.g. 256m.' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner session" time' -l 'time' -d 'Print each cell\'s wall time.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner session" meta-commands' -l 'meta-commands' -d 'With piped input: treat lines starting with \':\' as meta commands (file commands stay inside the current folder).'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner session" raw' -l 'raw' -d 'Pass the program\'s terminal control sequences through unfiltered (clipboard, title, queries).'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner session" join' -l 'join' -d 'Run in a named session that another user or job (CODERUNNER_JOB) created.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner session" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner session" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner pool" -eq 1' -fa 'show' -d 'Show pools, sessions and containers (the default).'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner pool" -eq 1' -fa 'warm' -d 'Start idle containers for a session ahead of need (they expire after container.ttl), or make session networks ready.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner pool" -eq 1' -fa 'drain' -d 'Remove idle containers now (busy ones are left alone); with --session, end that session.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool show" config' -l 'config' -d 'Config file to read (default: $XDG_CONFIG_HOME/coderunner/config.toml, ~/.config/coderunner/config.toml, /etc/coderunner/config.toml).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'toml\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool show" json' -l 'json' -d 'Print JSON for scripts.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool show" session' -l 'session' -d 'Show only this session.' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool show" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool show" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool warm" config' -l 'config' -d 'Config file to read (default: $XDG_CONFIG_HOME/coderunner/config.toml, ~/.config/coderunner/config.toml, /etc/coderunner/config.toml).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'toml\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner pool warm" -eq 1' -fka 'python javascript java cpp sql'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool warm" session' -l 'session' -d 'Session to warm (as used with `run --session`).' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool warm" count' -l 'count' -d 'How many containers.' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool warm" networks' -l 'networks' -d 'Make this many session networks ready ahead of need (new sessions lease them at once).' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool warm" join' -l 'join' -d 'Warm a named session that another user or job (CODERUNNER_JOB) created.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool warm" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool warm" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool drain" config' -l 'config' -d 'Config file to read (default: $XDG_CONFIG_HOME/coderunner/config.toml, ~/.config/coderunner/config.toml, /etc/coderunner/config.toml).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'toml\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool drain" session' -l 'session' -d 'Only this session; its network is removed too.' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool drain" all' -l 'all' -d 'Drain every session\'s idle containers, every user\'s (needed without --session).'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool drain" y yes' -s 'y' -l 'yes' -d 'Do not ask for confirmation with --all.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool drain" networks' -l 'networks' -d 'Remove the ready session networks beyond network.ready (with --all: every ready one).'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool drain" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner pool drain" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner net" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner net" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner net" -eq 1' -fa 'gc' -d 'Remove orphaned session networks and containers.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner net gc" config' -l 'config' -d 'Config file to read (default: $XDG_CONFIG_HOME/coderunner/config.toml, ~/.config/coderunner/config.toml, /etc/coderunner/config.toml).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'toml\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner net gc" dry-run' -l 'dry-run' -d 'List what would be removed without removing it.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner net gc" all' -l 'all' -d 'Remove every coderunner network and container, in use or not.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner net gc" y yes' -s 'y' -l 'yes' -d 'Do not ask for confirmation with --all.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner net gc" json' -l 'json' -d 'Print JSON for scripts.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner net gc" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner net gc" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner fleet" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner fleet" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner fleet" -eq 1' -fa 'status' -d 'Health, sessions and pool use of each node, and the fleet\'s totals.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner fleet status"' -l 'nodes' -d 'Base URLs of the nodes (http://host:port).' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner fleet status" token' -l 'token' -d 'The nodes\' server.token (default: $CODERUNNER_SERVER_TOKEN).' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner fleet status" timeout' -l 'timeout' -d 'How long to wait for each node.' -rfka ''
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner fleet status" json' -l 'json' -d 'Print JSON for scripts.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner fleet status" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner fleet status" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner runtimes" config' -l 'config' -d 'Config file to read (default: $XDG_CONFIG_HOME/coderunner/config.toml, ~/.config/coderunner/config.toml, /etc/coderunner/config.toml).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'toml\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner runtimes" json' -l 'json' -d 'Print JSON for scripts.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner runtimes" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner runtimes" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner images" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner images" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner images" -eq 1' -fa 'build' -d 'Build runtime images through the Docker Engine API, skipping those that are current.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner images build" config' -l 'config' -d 'Config file to read (default: $XDG_CONFIG_HOME/coderunner/config.toml, ~/.config/coderunner/config.toml, /etc/coderunner/config.toml).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'toml\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_positional "coderunner images build" -ge 1' -fka 'python javascript java cpp sql'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner images build" force' -l 'force' -d 'Rebuild even when the image is current.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner images build" no-smoke-test' -l 'no-smoke-test' -d 'Skip the smoke test after building.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner images build" verbose' -l 'verbose' -d 'Show every line of Docker\'s build output.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner images build" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner images build" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner config" config' -l 'config' -d 'Config file to read (default: $XDG_CONFIG_HOME/coderunner/config.toml, ~/.config/coderunner/config.toml, /etc/coderunner/config.toml).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'toml\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner config" keys' -l 'keys' -d 'List every setting with its description and environment variable instead of the values.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner config" json' -l 'json' -d 'Print JSON for scripts (docs/json.md).'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner config" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner config" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner doctor" config' -l 'config' -d 'Config file to read (default: $XDG_CONFIG_HOME/coderunner/config.toml, ~/.config/coderunner/config.toml, /etc/coderunner/config.toml).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'toml\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner doctor" json' -l 'json' -d 'Print JSON for scripts: {"ok": Bool, "checks": [{"check", "status", "message", "hint"}]}.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner doctor" version' -l 'version' -d 'Show the version.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner doctor" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'coderunner' -n '__coderunner_should_offer_completions_for_flags_or_options "coderunner help" version' -l 'version' -d 'Show the version.'
