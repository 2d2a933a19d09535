# bash completion for hostdevctl(8)                                    -*- shell-script -*-
#
# Installed as /usr/share/bash-completion/completions/hostdevctl (bash-completion loads it on first use).
# The candidates come from hostdevctl itself, through its hidden `hostdevctl complete` helper: commands
# and options from its command table (so completion cannot drift from the parser), PF and device
# addresses from /sys/bus/pci/devices, pools from the configuration (--config-dir if given on the line),
# the formats of `hostdevctl export`.

_hostdevctl_values() # _hostdevctl_values CTL KIND CURRENT CONFIG_DIR: sets COMPREPLY for an option value
{
    local ctl=$1 kind=$2 value=$3 config_dir=$4 list=""
    case $kind in
        directory) _filedir -d; return ;;
        file) _filedir; return ;;
        number) return ;;
        pf) list=$("$ctl" complete pfs 2>/dev/null) ;;
        device) list=$("$ctl" complete devices 2>/dev/null) ;;
        pool) list=$("$ctl" complete pools $config_dir 2>/dev/null) ;;
        state) list=$("$ctl" complete states 2>/dev/null) ;;
    esac
    # Comma-separated lists (--state blocked,failed): complete the item after the last comma.
    local head=""
    if [[ $value == *,* ]]; then
        head=${value%,*},
        value=${value##*,}
    fi
    local IFS=$'\n'
    COMPREPLY=($(compgen -P "$head" -W "$list" -- "$value"))
}

_hostdevctl()
{
    local cur prev words cword split
    # -n : keeps PCI addresses (0000:3b:00.0) in one word although ':' breaks words in bash.
    _init_completion -s -n : || return

    local ctl=${words[0]} cmd="" config_dir="" i
    local value_options
    # Options that take a value, of any command: their value is not the command word.
    value_options=" $("$ctl" complete options-with-values 2>/dev/null | tr '\n' ' ') "
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --config-dir) config_dir=${words[i + 1]} ;;
            --config-dir=*) config_dir=${words[i]#*=} ;;
            -*) ;;
            *)
                if [[ -z $cmd && $value_options != *" ${words[i - 1]} "* ]]; then
                    cmd=${words[i]}
                fi
                ;;
        esac
    done

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--help --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$("$ctl" complete commands 2>/dev/null)" -- "$cur"))
        fi
        return
    fi

    local options
    options=$("$ctl" complete options "$cmd" 2>/dev/null)
    # The value of an option: `--pf 0000:3b<TAB>` or `--pf=0000:3b<TAB>` (split by _init_completion -s).
    if [[ $prev == --* ]]; then
        local kind
        kind=$(awk -v o="$prev" '$1 == o { print $2 }' <<<"$options")
        if [[ -n $kind ]]; then
            _hostdevctl_values "$ctl" "$kind" "$cur" "$config_dir"
            __ltrim_colon_completions "$cur"
            return
        fi
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(awk '{ print $1 }' <<<"$options")" -- "$cur"))
        [[ ${COMPREPLY-} == *= ]] && compopt -o nospace
        return
    fi
    case $cmd in
        import-mdevctl) _filedir -d ;;
        export) COMPREPLY=($(compgen -W "$("$ctl" complete formats 2>/dev/null)" -- "$cur")) ;;
    esac
} &&
    complete -F _hostdevctl hostdevctl

# ex: filetype=sh
