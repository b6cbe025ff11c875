// A workers module without subsystems: a pooled batch must refuse it, naming the option.
export const somethingElse = 1;
