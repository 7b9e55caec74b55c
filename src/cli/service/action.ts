export type ServiceAction = "install" | "uninstall" | "status";
