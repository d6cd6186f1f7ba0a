/* placeholder: replaced by the module implementation */
typedef int snap_placeholder_state;
