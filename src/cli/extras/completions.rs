//! `taskmaster completions SHELL`: clap_complete's script for the subcommands and options,
//! plus, for bash, zsh and fish, completion of live program and process names.
//!
//! The names come from `taskmaster __complete-names` (the daemon's `names` request, given up
//! after a second, nothing printed on any failure), run by the script each time names are
//! wanted: after `status`, `start`, `stop`, `restart`, `logs`, `pid`, and after `signal`'s
//! signal (whose first argument completes from a list of common signals). A `--socket PATH`
//! or `--config CONFIG` already typed on the line is passed on; otherwise the usual socket
//! rule applies.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// The commands after which names complete.
const NAME_COMMANDS: &str = "status start stop restart logs pid signal";

/// The signals offered as `signal`'s first argument.
const SIGNALS: &str = "HUP INT QUIT KILL USR1 USR2 TERM CONT STOP TSTP WINCH";

/// The full script for `shell`.
pub(super) fn script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "taskmaster", &mut out);
    let generated = String::from_utf8_lossy(&out).into_owned();
    match shell {
        Shell::Bash => format!("{generated}\n{}", bash_names()),
        Shell::Zsh => zsh_with_names(&generated),
        Shell::Fish => format!("{generated}\n{}", fish_names()),
        _ => generated,
    }
    .into_bytes()
}

/// A wrapper around clap's `_taskmaster` that offers names where they belong. Bash splits
/// words at `:` (COMP_WORDBREAKS), so names are matched against the whole word typed and
/// returned without the part bash already holds, as bash-completion's
/// `__ltrim_colon_completions` does.
fn bash_names() -> String {
    format!(
        r#"_taskmaster_names() {{
    _taskmaster "$@"
    local line="${{COMP_LINE:0:COMP_POINT}}"
    local full="${{line##*[[:space:]]}}"
    local cur="${{COMP_WORDS[COMP_CWORD]}}"
    local prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    case "$full" in -*) return 0 ;; esac
    case "$prev" in --socket|-n|--lines|--timeout|--config) return 0 ;; esac
    local words sub="" sock="" config="" positional=0 i
    read -ra words <<< "$line"
    [[ -n "$full" ]] && unset 'words[${{#words[@]}}-1]'
    for (( i = 1; i < ${{#words[@]}}; i++ )); do
        case "${{words[i]}}" in
            --socket) sock="${{words[i+1]}}"; i=$((i + 1)) ;;
            --socket=*) sock="${{words[i]#--socket=}}" ;;
            --config) config="${{words[i+1]}}"; i=$((i + 1)) ;;
            --config=*) config="${{words[i]#--config=}}" ;;
            -n|--lines|--timeout) i=$((i + 1)) ;;
            -*) ;;
            *) if [[ -z "$sub" ]]; then sub="${{words[i]}}"; else positional=$((positional + 1)); fi ;;
        esac
    done
    case " {NAME_COMMANDS} " in *" $sub "*) ;; *) return 0 ;; esac
    local candidates
    if [[ "$sub" == signal && $positional -eq 0 ]]; then
        candidates=$'{signals}'
    elif [[ "$sub" == logs && $positional -gt 0 ]]; then
        return 0
    else
        candidates="$(taskmaster __complete-names ${{sock:+--socket "$sock"}} ${{config:+--config "$config"}} 2>/dev/null)"
    fi
    local IFS=$'\n' prefix="${{full%"$cur"}}" c
    COMPREPLY=()
    for c in $(compgen -W "$candidates" -- "$full"); do
        COMPREPLY+=( "${{c#"$prefix"}}" )
    done
}}

if [[ "${{BASH_VERSINFO[0]}}" -eq 4 && "${{BASH_VERSINFO[1]}}" -ge 4 || "${{BASH_VERSINFO[0]}}" -gt 4 ]]; then
    complete -F _taskmaster_names -o nosort -o bashdefault -o default taskmaster
else
    complete -F _taskmaster_names -o bashdefault -o default taskmaster
fi
"#,
        signals = SIGNALS.replace(' ', "\\n"),
    )
}

/// clap's zsh script with names where the subcommands take them: the `names` and `name`
/// arguments get `_taskmaster_names` instead of `_default`, and `signal`'s first argument
/// the signal list.
fn zsh_with_names(generated: &str) -> String {
    let function = r#"
(( $+functions[_taskmaster_names] )) ||
_taskmaster_names() {
    # The whole line so far: `_arguments` narrows $words to the positional arguments.
    local -a line
    line=(${(z)LBUFFER})
    local sock config i
    for (( i = 1; i < ${#line}; i++ )); do
        [[ ${line[i]} == --socket ]] && sock=${(Q)line[i+1]}
        [[ ${line[i]} == --socket=* ]] && sock=${(Q)line[i]#--socket=}
        [[ ${line[i]} == --config ]] && config=${(Q)line[i+1]}
        [[ ${line[i]} == --config=* ]] && config=${(Q)line[i]#--config=}
    done
    local -a names
    names=(${(f)"$(taskmaster __complete-names ${sock:+--socket "$sock"} ${config:+--config "$config"} 2>/dev/null)"})
    compadd -a names
}
"#;
    let mut out = String::new();
    for (n, line) in generated.lines().enumerate() {
        let named = line.starts_with("'*::names -- ") || line.starts_with("':name -- ");
        let signal = line.starts_with("':signal -- ");
        let line = if named {
            line.replacen(":_default'", ":_taskmaster_names'", 1)
        } else if signal {
            line.replacen(":_default'", &format!(":({SIGNALS})'"), 1)
        } else {
            line.to_owned()
        };
        out.push_str(&line);
        out.push('\n');
        if n == 0 {
            // Right after `#compdef`, so it exists before `_taskmaster` first runs.
            out.push_str(function);
        }
    }
    out
}

/// Extra `complete` lines for fish.
fn fish_names() -> String {
    format!(
        r#"function __fish_taskmaster_names
    set -l words (commandline -opc)
    set -l where
    for i in (seq (count $words))
        if contains -- "$words[$i]" --socket --config; and test $i -lt (count $words)
            set -a where $words[$i] $words[(math $i + 1)]
        end
    end
    taskmaster __complete-names $where 2>/dev/null
end
complete -c taskmaster -n "__fish_taskmaster_using_subcommand {NAME_COMMANDS}" -f -a "(__fish_taskmaster_names)"
complete -c taskmaster -n "__fish_taskmaster_using_subcommand signal" -f -a "{SIGNALS}"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(shell: Shell) -> String {
        String::from_utf8(script(shell)).unwrap()
    }

    #[test]
    fn zsh_names_use_the_daemon() {
        let z = text(Shell::Zsh);
        assert!(z.starts_with("#compdef taskmaster\n"), "{z}");
        assert!(z.contains("_taskmaster_names() {"));
        let names_args = z
            .lines()
            .filter(|l| l.starts_with("'*::names -- ") || l.starts_with("':name -- "))
            .collect::<Vec<_>>();
        assert!(names_args.len() >= 6, "{names_args:?}");
        for line in names_args {
            assert!(line.ends_with(":_taskmaster_names' \\"), "{line}");
        }
        assert!(z.contains(":(HUP INT QUIT"), "signal list");
    }

    #[test]
    fn bash_and_fish_call_complete_names() {
        let b = text(Shell::Bash);
        assert!(b.contains("complete -F _taskmaster_names"));
        assert!(b.contains("taskmaster __complete-names"));
        let f = text(Shell::Fish);
        assert!(f.contains("(__fish_taskmaster_names)"));
        assert!(f.contains("taskmaster __complete-names $where"));
    }
}
