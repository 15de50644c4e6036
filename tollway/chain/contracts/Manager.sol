// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {
    IBondingManager,
    IController,
    ILivepeerToken,
    IMinter,
    IRoundsManager
} from "./Interfaces.sol";

/// @title Base of every devnet protocol contract.
/// @notice Peers are looked up in the Controller by keccak256(name) on every call, as Livepeer
/// does, so the Controller's owner can swap one contract without redeploying the others.
abstract contract Manager {
    bytes32 internal constant BONDING_MANAGER = keccak256("BondingManager");
    bytes32 internal constant LIVEPEER_TOKEN = keccak256("LivepeerToken");
    bytes32 internal constant MINTER = keccak256("Minter");
    bytes32 internal constant ROUNDS_MANAGER = keccak256("RoundsManager");
    bytes32 internal constant TICKET_BROKER = keccak256("TicketBroker");

    IController public immutable controller;

    constructor(address _controller) {
        require(_controller != address(0), "controller is null address");
        controller = IController(_controller);
    }

    modifier onlyControllerOwner() {
        require(msg.sender == controller.owner(), "caller must be Controller owner");
        _;
    }

    modifier whenSystemNotPaused() {
        require(!controller.paused(), "system is paused");
        _;
    }

    modifier whenCurrentRoundInitialized() {
        require(_roundsManager().currentRoundInitialized(), "current round is not initialized");
        _;
    }

    modifier onlyContract(bytes32 _id, string memory _message) {
        require(msg.sender == controller.getContract(_id), _message);
        _;
    }

    function _roundsManager() internal view returns (IRoundsManager) {
        return IRoundsManager(controller.getContract(ROUNDS_MANAGER));
    }

    function _bondingManager() internal view returns (IBondingManager) {
        return IBondingManager(controller.getContract(BONDING_MANAGER));
    }

    function _minter() internal view returns (IMinter) {
        return IMinter(controller.getContract(MINTER));
    }

    function _token() internal view returns (ILivepeerToken) {
        return ILivepeerToken(controller.getContract(LIVEPEER_TOKEN));
    }
}
